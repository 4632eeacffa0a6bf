"""Read a kustomization's image pins and references from its text: the fast reader when the
text is in the plain form this tool writes (``fast.py``), else the YAML parser, which also refuses
what is malformed. Two entries for one image are an error, never a guess."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import modelcar
from gitops_mlops.pins.fast import fast_pin_fields
from gitops_mlops.yamltext.nodes import MappingNode, Node, ScalarNode, SequenceNode, compose, line_of, mapping_get

PIN_FIELDS = ("newName", "newTag", "digest")


@dataclass(frozen=True)
class Pin:
    """One ``images:`` entry of a kustomization."""

    name: str
    new_name: str | None = None
    new_tag: str | None = None
    digest: str | None = None
    line: int = field(default=0, compare=False)  # 0: not known (the fast reader)

    @property
    def repository(self) -> str:
        return self.new_name or self.name


@dataclass(frozen=True)
class Kustomization:
    source: str
    pins: tuple[Pin, ...]
    references: tuple[str, ...]  # resources/components/bases entries, as written

    def pin(self, image: str) -> Pin | None:
        for pin in self.pins:
            if pin.name == image:
                return pin
        return None


def parse(text: str, source: str, only: str | None = None) -> Kustomization:
    """Every pin and reference of a kustomization; malformed content is bad input. ``only``: a
    modelcar patch the tool cannot read is an error for that pin alone (left out of the others)."""
    root, images = _root_and_images(text, source)
    pins = _pins_of(images, source) + tuple(pin for _, pin in _modelcar_pins(text, source, root, only))
    return Kustomization(source=source, pins=pins, references=_references(root, source))


def references(text: str, source: str) -> tuple[str, ...]:
    """The resources/components/bases entries of a kustomization, as written (no pin is read)."""
    return _references(_root_and_images(text, source)[0], source)


def _references(root: MappingNode | None, source: str) -> tuple[str, ...]:
    references: list[str] = []
    for key in ("resources", "components", "bases"):
        pair = mapping_get(root, key) if root is not None else None
        if pair is None or (isinstance(pair[1], ScalarNode) and pair[1].tag.endswith(":null")):
            continue
        if not isinstance(pair[1], SequenceNode):
            raise InputError(f"{source}:{line_of(pair[1])}: {key} must be a list")
        for item in pair[1].value:
            if not isinstance(item, ScalarNode):
                raise InputError(f"{source}:{line_of(item)}: {key} entries must be strings")
            references.append(item.value)
    return tuple(references)


def fast_pins(text: str, source: str = "") -> tuple[Pin, ...] | None:
    fields = _fast_fields(text, source)
    return None if fields is None else tuple(Pin(name=n, new_name=nn, new_tag=t, digest=d) for n, nn, t, d in fields)


def _fast_fields(text: str, source: str = "", only: str | None = None) -> list[tuple[str, str | None, str | None, str | None]] | None:
    """(name, newName, newTag, digest) of every pin, images and modelcars, without the parser; None when it must decide."""
    fields = fast_pin_fields(text)
    cars = modelcar.fast_find(text) if fields is not None else None
    if cars is None:
        return None
    return fields + [(pin.name, pin.new_name, pin.new_tag, pin.digest) for _, pin in _readable(cars, source, only)]


def _modelcar_found(text: str, source: str, root: MappingNode | None = None, oci_only: bool = True) -> list[modelcar.Found]:
    """The storageUri patches of InferenceServices; only those with an oci:// value are pins."""
    found = modelcar.fast_find(text) if modelcar.may_hold_pin(text) else []
    if found is None:
        if root is None:
            root, _ = _root_and_images(text, source)
        found = modelcar.find(root, text, source)
    return [f for f in found if f.value.startswith(modelcar.SCHEME) or f.error or not oci_only]


def _modelcar_pins(text: str, source: str, root: MappingNode | None, only: str | None = None) -> list[tuple[modelcar.Found, Pin]]:
    """Each modelcar pin (an oci:// storageUri patch) with its Pin form; see _readable."""
    if not modelcar.may_hold_pin(text):
        return []
    return _readable(_modelcar_found(text, source, root), source, only)


def _readable(patches: list[modelcar.Found], source: str, only: str | None) -> list[tuple[modelcar.Found, Pin]]:
    """The pins read from storageUri patches. One the tool cannot read (or a malformed URI) is bad
    input; with ``only``, for that pin alone: another model's broken patch is left out, never blocks."""
    out = []
    for found in patches:
        try:
            if found.error:
                raise InputError(found.error)
            repository, tag, digest = modelcar.split_uri(found.value, f"{source}:{found.line}")
        except InputError:
            if only is None or only == found.pin_name:
                raise
            continue
        out.append((found, Pin(found.pin_name, repository, tag, digest, line=found.line)))
    return out


def pins(text: str, source: str, only: str | None = None) -> tuple[Pin, ...]:
    """Every pin of a kustomization text: the fast reader when it can, else the parser (which also
    refuses what is malformed; see ``parse`` for ``only``). The one reader of pins; ``read_pin_fields`` is its tuple form."""
    fields = _fast_fields(text, source, only)
    if fields is None:
        return parse(text, source, only).pins
    return tuple(Pin(name=n, new_name=nn, new_tag=t, digest=d) for n, nn, t, d in fields)


def _root_and_images(text: str, source: str) -> tuple[MappingNode | None, SequenceNode | None]:
    root = compose(text, source)
    if root is None:
        return None, None
    if not isinstance(root, MappingNode):
        raise InputError(f"{source}:{line_of(root)}: a kustomization must be a mapping")
    pair = mapping_get(root, "images")
    if pair is None:
        return root, None
    value = pair[1]
    if isinstance(value, ScalarNode) and value.tag.endswith(":null"):
        return root, None
    if not isinstance(value, SequenceNode):
        raise InputError(f"{source}:{line_of(value)}: images must be a list")
    return root, value


def _pins_of(images: SequenceNode | None, source: str) -> tuple[Pin, ...]:
    """Every pin of an ``images:`` node; two entries for one image are an error, never a guess."""
    pins = tuple(_pin_of(entry, source) for entry in images.value) if images is not None else ()
    seen: dict[str, int] = {}
    for pin in pins:
        if pin.name in seen:
            raise InputError(f"{source}:{pin.line}: two images entries for {pin.name!r} (first at line {seen[pin.name]})")
        seen[pin.name] = pin.line
    return pins


def _pin_of(entry: Node, source: str) -> Pin:
    if not isinstance(entry, MappingNode):
        raise InputError(f"{source}:{line_of(entry)}: an images entry must be a mapping")
    fields: dict[str, str] = {}
    for key, value in entry.value:
        if not isinstance(value, ScalarNode) or value.style in ("|", ">"):
            raise InputError(f"{source}:{line_of(value)}: images entry field {key.value!r} must be a plain string")
        fields[key.value] = value.value
    if not fields.get("name"):
        raise InputError(f"{source}:{line_of(entry)}: an images entry has no name")
    return Pin(
        name=fields["name"],
        new_name=fields.get("newName"),
        new_tag=fields.get("newTag"),
        digest=fields.get("digest"),
        line=line_of(entry),
    )
