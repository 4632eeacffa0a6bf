"""Pin-invariant renders are exact: a site rendered once with sentinels for its pin values, then
the values substituted, equals what kustomize itself renders, for every golden pin form and every
site of the example fleet, before and after a change of pin values (served from the cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_mlops.config.load import load_config, parse_config
from gitops_mlops.config.sites import Site, discover_sites
from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.pins.kustomization import set_pin
from gitops_mlops.pins.pinedit import pin_value_spans
from gitops_mlops.pins.sentinels import _SAFE, Forms, PinInvariant, has_sentinel, pin_invariant, pin_invariant_shared, sentinel
from gitops_mlops.render import cache as rendercache
from gitops_mlops.render.kustomize import Kustomize, render_sites
from gitops_mlops.render.state import render_state
from gitops_mlops.yamltext.edit import apply_edits, format_scalar
from testing.paths import PROJECT_ROOT
from testing.repos import build_tree, git
from tests.pins.test_kustomization import CASES, golden

CONFIG = "models:\n  - name: fraud-detector\n    repository: quay.io/example/fraud-detector\nstages:\n  - name: edge\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: server
spec:
  selector:
    matchLabels: {app: server}
  template:
    metadata:
      labels: {app: server}
    spec:
      initContainers:
        - name: warmup
          image: other
      containers:
        - name: model
          image: fraud-detector
        - name: sidecar
          image: fraud-detector-sidecar:0.1
"""
NEW = {"newName": "quay.io/example/fraud-detector", "newTag": "2.0.0", "digest": "sha256:" + "c" * 64}


def kustomize_output(directory: Path) -> str:
    return Kustomize.find().build(directory)


@pytest.fixture
def counted(tmp_path) -> tuple[Kustomize, Path]:
    """The real kustomize behind a script that counts its runs (one line per run in the log)."""
    log, script = tmp_path / "runs.log", tmp_path / "counted-kustomize"
    script.write_text(f'#!/bin/sh\necho run >> {log}\nexec {" ".join(Kustomize.find().command)} "$@"\n')
    script.chmod(0o755)
    log.write_text("")
    return Kustomize((str(script),)), log


def with_base(text: str) -> str:
    """A golden kustomization that reads the test base (added when it has no resources)."""
    if "resources" in text:
        return text.replace("../../base", "../../../base")
    if text.startswith("---"):
        first, _, rest = text.partition("\n")
        return f"{first}\nresources:\n- ../../../base\n{rest}"
    return "resources:\n- ../../../base\n" + text


def make_site(tmp_path: Path, text: str) -> tuple[Path, Site]:
    repo = tmp_path / "repo"
    build_tree(repo, {"gitops-mlops.yaml": CONFIG, "base/kustomization.yaml": "resources:\n- deployment.yaml\n", "base/deployment.yaml": DEPLOYMENT})
    git(repo, "init", "--quiet")
    return repo, add_site(repo, "x", text)


def add_site(repo: Path, name: str, text: str) -> Site:
    site_dir = repo / "overlays/edge" / name
    site_dir.mkdir(parents=True)
    (site_dir / "kustomization.yaml").write_bytes(text.encode())
    # its own Service, so no two sites of a fleet share inputs (each renders, and is cached, alone)
    (site_dir / "service.yaml").write_text(
        f"apiVersion: v1\nkind: Service\nmetadata:\n  name: server\n  labels: {{site: {name}}}\nspec:\n  ports:\n  - port: 80\n"
    )
    return Site(f"edge/{name}", f"overlays/edge/{name}", "edge")


def logged_kustomize(tmp: Path) -> tuple[Kustomize, Path]:
    """The real kustomize behind a script that logs, per run, the folders it was given and the
    sites a batch wraps (the ``resources`` of its ``s*`` folders), so a test sees which sites ran."""
    log, script = tmp / "runs.log", tmp / "logged-kustomize"
    script.write_text(
        '#!/bin/sh\nfor a in "$@"; do echo "run $a" >> ' + str(log) + '; [ -d "$a" ] && cat "$a"/s*/kustomization.yaml >> ' + str(log) + " 2>/dev/null; done\n"
        f'exec {" ".join(Kustomize.find().command)} "$@"\n'
    )
    script.chmod(0o755)
    log.write_text("")
    return Kustomize((str(script),)), log


@pytest.fixture(scope="module")
def golden_fleet(tmp_path_factory) -> dict[str, dict]:
    """Every golden pin form (original and expected) as one site of one repository, rendered
    through sentinels cold, then again after a change of pin values, each time beside
    kustomize's own render of every site (the batched renderer, which test_rendering proves
    equal to one ``kustomize build`` per site); and which sites kustomize ran for the second time."""
    tmp = tmp_path_factory.mktemp("golden-fleet")
    repo = tmp / "repo"
    build_tree(repo, {"gitops-mlops.yaml": CONFIG, "base/kustomization.yaml": "resources:\n- deployment.yaml\n", "base/deployment.yaml": DEPLOYMENT})
    git(repo, "init", "--quiet")
    config = parse_config(CONFIG)
    kustomize, log = logged_kustomize(tmp)
    texts = {f"{case}--{which}": with_base(golden(case, which)) for case in CASES for which in ("original", "expected")}
    sites = [add_site(repo, name, text) for name, text in texts.items()]
    cold = render_state(repo, config, tuple(sites), outputs=True, kustomize=kustomize)
    truth_cold = render_sites(repo, sites)
    changed = {}
    for site in sites:
        name = site.name.removeprefix("edge/")
        changed[name] = set_pin(texts[name], site.path, "fraud-detector", NEW)
        (repo / site.path / "kustomization.yaml").write_bytes(changed[name].encode())
    mark = len(log.read_text())
    warm = render_state(repo, config, tuple(sites), outputs=True, kustomize=kustomize)
    ran = log.read_text()[mark:]
    truth_warm = render_sites(repo, sites)
    return {
        name: {
            "text": texts[name],
            "changed": changed[name],
            "path": site.path,
            "cold": cold[site.name],
            "warm": warm[site.name],
            "truth_cold": truth_cold[site.name].output,
            "truth_warm": truth_warm[site.name].output,
            "rendered_again": f"/overlays/edge/{name}\n" in ran,
        }
        for name, site in zip(texts, sites, strict=True)
    }


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("which", ["original", "expected"])
def test_every_golden_pin_form_renders_exactly_through_sentinels(golden_fleet, case, which):
    run = golden_fleet[f"{case}--{which}"]
    assert run["cold"].ok, run["cold"].error
    assert run["truth_cold"] and run["cold"].output == run["truth_cold"]
    form = pin_invariant(run["text"], run["path"])
    if form is None:
        return  # no invariant form (e.g. no pin): rendered as it is, which the assertion above covered
    # a change of pin values only: served from the sentinel render, without kustomize, and still exact
    changed_form = pin_invariant(run["changed"], run["path"])
    assert changed_form is not None
    pin_values_only = changed_form.text == form.text  # else a pin or field was added: kustomize renders it
    assert run["warm"].ok, run["warm"].error
    assert run["warm"].output == run["truth_warm"] and NEW["digest"] in run["warm"].output
    assert run["rendered_again"] != pin_values_only  # kustomize ran only for a new shape


def test_one_golden_form_alone_matches_one_kustomize_build(tmp_path):
    """The fleet above compares with the batched renderer; here one form against a plain ``kustomize build``."""
    text = with_base(golden(CASES[0], "original"))
    repo, site = make_site(tmp_path, text)
    cold = render_state(repo, parse_config(CONFIG), (site,), outputs=True)[site.name]
    assert cold.ok and cold.output == kustomize_output(repo / site.path)


def test_the_example_fleet_renders_exactly_through_sentinels(tmp_path, counted):
    kustomize, log = counted
    repo = tmp_path / "example"
    files = {p: (PROJECT_ROOT / p).read_text() for p in git(PROJECT_ROOT, "ls-files", "gitops-mlops.yaml", "base", "overlays").split()}
    build_tree(repo, files)
    git(repo, "init", "--quiet")
    config = load_config(repo)
    sites = discover_sites(repo, config)
    state = render_state(repo, config, sites, outputs=True, kustomize=kustomize)
    truth = render_sites(repo, sites)  # kustomize's own renders, batched (test_rendering: equal to one build per site)
    for site in sites:
        assert pin_invariant((repo / site.path / "kustomization.yaml").read_text(), site.path) is not None, site.name
        assert truth[site.name].output and state[site.name].output == truth[site.name].output, site.name
    for site in sites:  # every pin of every site moves: all served from the sentinel renders
        path = repo / site.path / "kustomization.yaml"
        for name in ("InferenceService/fraud-detector", "demand-forecast"):  # a modelcar's storageUri patch and an images entry
            path.write_text(set_pin(path.read_text(), site.path, name, NEW))
    runs = log.read_text().count("run")
    state = render_state(repo, config, sites, outputs=True, kustomize=kustomize)
    assert log.read_text().count("run") == runs  # no kustomize ran
    truth = render_sites(repo, sites)
    for site in sites:
        assert state[site.name].ok and state[site.name].output == truth[site.name].output, site.name
        assert NEW["digest"] in state[site.name].output, site.name
    rendercache.clear(repo)


def test_a_file_holding_a_sentinel_or_an_odd_value_has_no_invariant_form():
    assert pin_invariant("images:\n- name: a\n  newTag: gitops-mlops-pin-0001-t\n", "k") is None
    assert pin_invariant("images:\n- name: a\n  newName: 'Has Space'\n", "k") is None
    assert pin_invariant("resources:\n- ../base\n", "k") is None
    form = pin_invariant('images:\n- name: a\n  newName: quay.io/x/a\n  newTag: "1.0"\n', "k")
    assert form is not None and "quay.io/x/a" not in form.text and form.substitute(form.text) == 'images:\n- name: a\n  newName: quay.io/x/a\n  newTag: "1.0"\n'


def test_a_site_reading_nested_and_sibling_folders_renders_exactly_through_sentinels(tmp_path, counted):
    """Folders nested in ``base`` and a sibling component: the mirror links the widest folder
    that does not hold the site (``base`` once, the component itself), and the render is exact."""
    kustomize, log = counted
    repo = tmp_path / "repo"
    site_text = (
        "resources:\n- ../../../base/models/fraud\ncomponents:\n- ../common\n"
        "images:\n- name: fraud-detector\n  newName: quay.io/example/fraud-detector\n  newTag: 1.0.0\n  digest: sha256:" + "a" * 64 + "\n"
    )
    build_tree(
        repo,
        {
            "gitops-mlops.yaml": CONFIG,
            "base/models/fraud/kustomization.yaml": "resources:\n- deployment.yaml\n- ../../shared\n",
            "base/models/fraud/deployment.yaml": DEPLOYMENT,
            "base/shared/kustomization.yaml": "resources:\n- service.yaml\n",
            "base/shared/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: server\nspec:\n  ports:\n  - port: 80\n",
            "overlays/edge/common/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations:\n  site-kind: edge\n",
            "overlays/edge/x/kustomization.yaml": site_text,
        },
    )
    git(repo, "init", "--quiet")
    config = parse_config(CONFIG)
    site = Site("edge/x", "overlays/edge/x", "edge")
    cold = render_state(repo, config, (site,), outputs=True, kustomize=kustomize)[site.name]
    assert cold.ok, cold.error
    assert cold.output == kustomize_output(repo / site.path) and "site-kind: edge" in cold.output and "kind: Service" in cold.output
    path = repo / site.path / "kustomization.yaml"
    path.write_text(set_pin(path.read_text(), site.path, "fraud-detector", NEW))
    runs = log.read_text().count("run")
    warm = render_state(repo, config, (site,), outputs=True, kustomize=kustomize)[site.name]
    assert warm.ok and warm.output == kustomize_output(repo / site.path)
    assert log.read_text().count("run") == runs and NEW["digest"] in warm.output


@pytest.mark.parametrize("header", ["", "# Edge site a: one replica\n", "# one\r\n#two\r\n\r\n", "\n  # indented\n\n", "# gitops-mlops-pin-0001-t\n"])
def test_forms_shared_across_headers_equal_each_forms_own(header):
    """Sites made from one template differ in their header comments only: the form worked out once
    for the rest of the text is, with each header, the form of the whole text."""
    memo: dict = {}
    for case in CASES:
        for which in ("original", "expected"):
            text = header + golden(case, which)
            assert pin_invariant_shared(text, "k", memo) == pin_invariant(text, "k"), (case, which)
            other = "# another site\n" + golden(case, which)
            assert pin_invariant_shared(other, "k", memo) == pin_invariant(other, "k"), (case, which)
    if "\r" not in header:  # the header is all comment lines: every site of one body shares one entry
        assert len(memo) == len({golden(case, which) for case in CASES for which in ("original", "expected")})


def test_forms_kept_by_shape_equal_each_forms_own():
    """Texts that differ only in pin values (one site along its promotions) share a shape: the form
    worked out once for the shape is, with each text's values, the form of that text."""
    shapes: dict = {}
    texts = [golden(case, which) for case in CASES for which in ("original", "expected")]
    texts += [text.replace("1.0.0", "2.3.4").replace("sha256:a", "sha256:b") for text in texts]
    for text in texts + texts:
        assert pin_invariant(text, "k", shapes) == pin_invariant(text, "k"), text
    assert 0 < len(shapes) < len({t for t in texts if pin_invariant(t, "k") is not None})


def generated_kustomizations(rng) -> list[str]:
    """Texts a run reads: the golden pin forms, with headers and with other pin values (as one site
    along its promotions, or sites made from one template), some quoted, some odd or holding a sentinel."""
    headers = ["", "# site a\n", "# site b\n\n", "\n  # indented\n", "# gitops-mlops-pin-0001-t\n", "# one\r\n"]
    values = ["1.0.0", "2.3.4", "'2.3.4'", '"9.9.9"', "v1_2", "1.0.0 # a comment", "gitops-mlops-pin-0002-t", "bad value!"]
    digests = ["sha256:" + c * 64 for c in "abcdef"] + ["sha256:" + "5e" * 28 + "0000000a"]
    texts = []
    for case in CASES:
        for which in ("original", "expected"):
            text = golden(case, which)
            for _ in range(rng.randint(1, 6)):
                made = text.replace("1.0.0", rng.choice(values)).replace("sha256:" + "a" * 64, rng.choice(digests))
                texts.append(rng.choice(headers) + made)
    return texts


@pytest.mark.parametrize("seed", range(8))
def test_forms_shared_by_a_run_equal_each_forms_own(seed):
    """One run's ``Forms`` (what the sites render now, their history, the render check after a write)
    gives every text the form ``pin_invariant`` gives it alone, whatever texts came before it."""
    import random

    rng = random.Random(seed)
    texts = generated_kustomizations(rng)
    forms, sources = Forms(), ["overlays/edge/a", "overlays/edge/b", "k"]
    for text in rng.sample(texts, len(texts)) + rng.sample(texts, len(texts) // 2):
        assert forms.of(text, rng.choice(sources)) == pin_invariant(text, "k"), text
    assert any(pin_invariant(t, "k") is None for t in texts) and any(pin_invariant(t, "k") is not None for t in texts)


def reference_form(text: str) -> PinInvariant | None:
    """The sentinel form the general way: each value's span edited by ``apply_edits`` to its sentinel
    in its quoting style (``format_scalar``)."""
    if has_sentinel(text):
        return None
    try:
        spans = pin_value_spans(text, "k")
    except GitOpsError:
        return None
    if not spans or not all(_SAFE[field].match(value) for field, _, _, value, _ in spans):
        return None
    tokens = [sentinel(index, field) for index, (field, *_) in enumerate(spans)]
    edits = [(start, end, format_scalar(token, style)) for token, (_, start, end, _, style) in zip(tokens, spans, strict=True)]
    order = sorted(range(len(tokens)), key=lambda i: -len(tokens[i]))
    return PinInvariant(apply_edits(text, edits), tuple((tokens[i], spans[i][3]) for i in order))


@pytest.mark.parametrize("seed", range(8))
def test_the_sentinel_form_filled_from_its_shape_equals_the_form_edited_in_place(seed):
    """A form is the text outside its pin values with the sentinels put in between: on generated
    kustomizations (the golden forms, modelcars among them, with other values, headers and quoting)
    the same text as each value's span edited in place."""
    import random

    from tests.pins.test_modelcaredit_golden import CASES as CAR_CASES
    from tests.pins.test_modelcaredit_golden import golden as car_golden

    rng = random.Random(seed)
    texts = generated_kustomizations(rng) + [car_golden(case, which) for case in CAR_CASES for which in ("original", "expected")]
    for text in texts:
        assert pin_invariant(text, "k") == reference_form(text), text
    assert sum(reference_form(t) is not None for t in texts) > len(texts) // 2


@pytest.mark.parametrize("seed", range(8))
def test_pins_read_through_the_form_equal_the_pins_read_from_the_text(seed):
    """A site's history reads each state's pins through its form (read once per shape, the values put
    back): on generated kustomizations the same pins as the text read itself, or no form to read through."""
    import random

    from gitops_mlops.pins.kustomization import pins
    from gitops_mlops.pins.sentinels import may_read_through, pins_of_form
    from tests.pins.test_modelcaredit_golden import CASES as CAR_CASES
    from tests.pins.test_modelcaredit_golden import golden as car_golden

    def read(text: str):
        try:
            return pins(text, "k")
        except GitOpsError:
            return ()

    rng = random.Random(seed)
    texts = generated_kustomizations(rng) + [car_golden(case, which) for case in CAR_CASES for which in ("original", "expected")]
    served = 0
    for text in texts:
        form = pin_invariant(text, "k")
        if form is None or not may_read_through(text) or not read(form.text):
            continue
        served += 1
        got = pins_of_form(form, read(form.text))
        assert got == read(text), text
        assert [p.line for p in got] == [p.line for p in read(text)], text
    assert served > len(texts) // 2


def test_the_literal_check_for_a_sentinel_agrees_with_the_regular_expression():
    """``has_sentinel`` equals ``_SENTINEL_RE.search`` on generated texts: pieces of sentinels, near
    misses (a digit short, another letter, a short run of 5e) and ordinary kustomization text."""
    import random

    from gitops_mlops.pins.sentinels import _SENTINEL_RE, has_sentinel, sentinel

    pieces = [sentinel(7, "newName"), sentinel(12, "newTag"), sentinel(3, "digest"), "gitops-mlops-pin-", "gitops-mlops-pin-12-t", "gitops-mlops-pin-0001-x"]
    pieces += [
        "sha256:" + "5e" * 27 + "0" * 8,
        "sha256:" + "5e" * 28,
        "sha256:" + "5e" * 28 + "0000000g",
        "5e" * 30,
        "newTag: 1.0\n",
        "images:\n- name: a\n",
        "\n",
        " ",
    ]
    for seed in range(2000):
        rng = random.Random(seed)
        text = "".join(rng.choice(pieces)[: rng.choice([None, None, rng.randint(0, 40)])] for _ in range(rng.randint(0, 6)))
        assert has_sentinel(text) == (_SENTINEL_RE.search(text) is not None), text
