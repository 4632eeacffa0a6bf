"""What an image states it requires, read from the label its model's ``requiresLabel`` names.

The compatibility check (``combination.check_requires``) asks, for each image of a model with a
``requiresLabel`` that a changed site would run, what the label requires; the value is parsed
as a ``requires:`` entry is (``config.releases.parse_label``) and judged the same way. Labels
are read from the image's config blob in its registry (``registry.labels``), once per image per
command (cached by the image's digest: ``labels``, a mapping a caller may share between the readers of
one command); a registry that fails is exit 6 and nothing is written. With ``--no-verify`` (or
GITOPS_MLOPS_NO_VERIFY) the registry is not asked: a note says which label was not read.
"""

from __future__ import annotations

from gitops_mlops.config.load import Config, Model
from gitops_mlops.config.releases import parse_label
from gitops_mlops.config.scaffold import initial_digest
from gitops_mlops.core import settings
from gitops_mlops.core.imageref import parse_image
from gitops_mlops.registry import client as registry
from gitops_mlops.registry.labels import image_labels


class LabelRequirements:
    """``(model, image) -> ((other, range), ...)``: the requirements the image's label states; notes say what was not read."""

    def __init__(
        self,
        config: Config,
        insecure_registries: tuple[str, ...] = (),
        verify: bool = True,
        client: registry.RegistryClient | None = None,
        labels: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.config = config
        self.insecure_registries = insecure_registries
        self.read = verify and not settings.no_verify()
        self.notes: list[str] = []
        self._own = client is None  # a client given is the caller's to close
        self._client = client
        self._found: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
        self.labels = {} if labels is None else labels  # image digest -> its labels (a digest names one config: one read)

    def __call__(self, model: Model, image: str) -> tuple[tuple[str, str], ...]:
        if not model.requires_label:
            return ()
        ref = parse_image(image)
        shown = f"{model.name} {ref.tag or (ref.digest or '')[:19]}"
        if not self.read:
            self._note(f"{shown}: label {model.requires_label} not read (registry not asked: --no-verify): what it requires was not checked")
            return ()
        if ref.digest == initial_digest(model.name):
            self._note(f"{shown}: the stand-in digest init wrote, not an image: it states no requirement")
            return ()
        key = (model.name, ref.digest or image)
        if key not in self._found:
            text = self._labels(ref).get(model.requires_label, "")
            names = [m.name for m in self.config.models]
            self._found[key] = parse_label(text, f"image {image} label {model.requires_label}", model.name, names) if text.strip() else ()
            if not text.strip():
                self._note(f"{shown}: the image has no label {model.requires_label}: it states no requirement")
        return self._found[key]

    def _labels(self, ref) -> dict[str, str]:
        """The image's labels: read once per digest (an image named by tag alone is read each time it is asked)."""
        if ref.digest and ref.digest in self.labels:
            return self.labels[ref.digest]
        if self._client is None:
            self._client = registry.RegistryClient(registry.endpoints_for(self.config.registries, self.insecure_registries).values())
        with registry.offline_hint("promote"):
            labels = image_labels(self._client, ref)
        if ref.digest:
            self.labels[ref.digest] = labels
        return labels

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def close(self) -> None:
        if self._own and self._client is not None:
            self._client.close()

    def __enter__(self) -> LabelRequirements:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
