"""Offline schema checks of rendered objects, as the API server would make them.

Built-in kinds (the core group and ``*.k8s.io``, ``apps``, ``batch``... groups without a dot)
are checked against the Kubernetes JSON schemas ``kubernetes-validate`` ships, strict:
an unknown field is an error, as with ``kubectl``'s default field validation. Custom
resources are checked against the CRDs the user supplies (``oc get crd -o yaml``), after
the structural defaulting the API server applies first. A kind with neither is "not
checked". Each distinct document is checked once per run, however many sites render it.
Rendered objects are read with PyYAML, the YAML 1.1 reading the API server uses (and twice
as fast as the round-trip parser, which the tool keeps for the files it edits).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import jsonschema
import yaml
from packaging.version import InvalidVersion, Version

from gitops_mlops.core.errors import InputError
from gitops_mlops.render.kustomize import split_documents

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_object(doc: str):
    """One rendered document as Python values (YAML 1.1, as the API server reads it)."""
    return yaml.load(doc, Loader=_Loader)


CRD_API = "apiextensions.k8s.io/v1"
CHECKS = "checks-1"  # what a verdict means; part of every stored verdict's key
_MESSAGE_LIMIT = 200


@dataclass(frozen=True)
class Finding:
    resource: str  # Kind/name
    path: str  # the field, slash-separated ('.': the object itself)
    message: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.path}: {self.message}"


@dataclass(frozen=True)
class Checked:
    """What one rendered output's objects showed: violations, and the kinds no schema covers."""

    errors: tuple[Finding, ...] = ()
    unchecked: tuple[str, ...] = ()  # 'Kind (apiVersion)'


def kubernetes_versions() -> list[str]:
    root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    found = {m.group(1) for p in root.iterdir() if (m := re.match(r"^v(\d+\.\d+)\.\d+-local-strict$", p.name))}
    return sorted(found, key=Version)


def resolve_version(wanted: str) -> str:
    """The newest shipped Kubernetes minor version not newer than ``wanted`` (default: the newest)."""
    versions = kubernetes_versions()
    if not wanted:
        return versions[-1]
    try:
        minor = Version(".".join(wanted.lstrip("v").split(".")[:2]))
    except InvalidVersion:
        raise InputError(f"schemas.kubernetesVersion {wanted!r} is not a Kubernetes version such as 1.31") from None
    usable = [v for v in versions if Version(v) <= minor]
    if not usable or minor > Version(versions[-1]):
        raise InputError(f"schemas.kubernetesVersion {wanted}: the installed kubernetes-validate has schemas for {versions[0]} to {versions[-1]}")
    return usable[-1]


def _is_builtin(api_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return group == "" or "." not in group or group.endswith(".k8s.io")


class Schemas:
    """Validators for one Kubernetes version and a set of CRDs; checks are remembered per document."""

    def __init__(self, kubernetes_version: str = "", crds: tuple[Path, ...] = (), cache=None) -> None:
        self.version = resolve_version(kubernetes_version)
        self._crds: dict[tuple[str, str], dict] = {}  # (apiVersion, kind) -> strict schema
        digests = []
        for path in crds:
            for file in _crd_files(path):
                digest, schemas = _crd_schemas(file, cache)
                digests.append(digest)
                self._crds.update(schemas)
        self.identity = hashlib.sha256("\0".join((CHECKS, self.version, jsonschema_version(), *sorted(digests))).encode()).hexdigest()
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator | None] = {}
        self._seen: dict[str, tuple[list[Finding], str | None]] = {}

    @property
    def crd_kinds(self) -> list[str]:
        return sorted({kind for _, kind in self._crds})

    def check(self, rendered: str) -> Checked:
        return self.check_docs(split_documents(rendered))

    def check_docs(self, docs: list[str]) -> Checked:
        errors: list[Finding] = []
        unchecked: list[str] = []
        for doc in docs:
            key = hashlib.sha256(doc.encode()).hexdigest()
            result = self._seen.get(key)
            if result is None:
                result = self._seen[key] = self._check_doc(doc)
            errors += result[0]
            if result[1] and result[1] not in unchecked:
                unchecked.append(result[1])
        return Checked(tuple(errors), tuple(unchecked))

    def check_object(self, obj: dict) -> tuple[list[Finding], str | None]:
        """(violations, 'Kind (apiVersion)' when no schema covers it) of one object."""
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        name = (obj.get("metadata") or {}).get("name") if isinstance(obj.get("metadata"), dict) else None
        resource = f"{kind}/{name}"
        if not isinstance(kind, str) or not isinstance(api_version, str) or not kind or not api_version:
            return [Finding(resource, ".", "an object needs apiVersion and kind")], None
        validator = self._validator(api_version, kind)
        if validator is None:
            return [], f"{kind} ({api_version})"
        if (api_version, kind) in self._crds:
            obj = copy.deepcopy(obj)
            _apply_defaults(obj, validator.schema)
        return [Finding(resource, _path(e), _message(e)) for e in validator.iter_errors(obj)], None

    def _check_doc(self, doc: str) -> tuple[list[Finding], str | None]:
        try:
            obj = load_object(doc)
        except yaml.YAMLError as exc:
            return [Finding("?", ".", f"not YAML: {str(exc).splitlines()[0]}")], None
        if obj is None:
            return [], None
        if not isinstance(obj, dict):
            return [Finding("?", ".", "a rendered document that is not an object")], None
        return self.check_object(obj)

    def validator(self, api_version: str, kind: str):
        """The validator of a kind (its ``schema``; None when no schema covers the kind)."""
        return self._validator(api_version, kind)

    def _validator(self, api_version: str, kind: str):
        key = (api_version, kind)
        if key not in self._validators:
            schema = self._crds.get(key)
            if schema is not None:
                self._validators[key] = jsonschema.Draft7Validator(schema)
            elif _is_builtin(api_version):
                self._validators[key] = _builtin_validator(self.version, api_version, kind)
            else:
                self._validators[key] = None
        return self._validators[key]


def _path(error: jsonschema.ValidationError) -> str:
    return "/".join(map(str, error.absolute_path)) or "."


def _message(error: jsonschema.ValidationError) -> str:
    text = " ".join(error.message.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


# ------------------------------------------------------------------ built-in kinds


@cache
def _definitions(version: str):
    from referencing import Registry, Resource

    folder = _schema_folder(version)
    definitions = Resource.from_contents(json.loads((folder / "_definitions.json").read_text()))
    return definitions @ Registry()


def _schema_folder(version: str):
    root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    return next(p for p in root.iterdir() if p.name.startswith(f"v{version}.") and p.name.endswith("-local-strict"))


def _builtin_validator(version: str, api_version: str, kind: str):
    from referencing import Resource

    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)  # apps/v1 -> apps-v1; rbac.authorization.k8s.io/v1 -> rbac-v1
    name = f"{kind.lower()}-{group_version}"
    if len(name) > 200 or not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", name):  # no file of the schema folder has another name
        return None
    file = _schema_folder(version) / f"{name}.json"
    if not file.is_file():
        return None
    schema = json.loads(file.read_text())
    registry = Resource.from_contents(schema) @ _definitions(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


# ------------------------------------------------------------------ CRDs


def _crd_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json") and p.is_file())
        if not files:
            raise InputError(f"{path}: no .yaml, .yml or .json file with CRDs in it")
        return files
    if not path.is_file():
        raise InputError(f"{path}: no such CRD file")
    return [path]


def jsonschema_version() -> str:
    from importlib.metadata import version

    return f"jsonschema {version('jsonschema')}, kubernetes-validate {version('kubernetes-validate')}"


def _crd_schemas(file: Path, cache) -> tuple[str, dict[tuple[str, str], dict]]:
    """The file's sha256, and (apiVersion, kind) -> the strict schema of every served version of every CRD in it."""
    data = file.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    key = "crd:" + digest
    stored = cache.meta(key) if cache is not None else None
    if stored is not None:
        return digest, {(a, k): s for a, k, s in json.loads(stored)}
    try:
        docs = list(yaml.load_all(data.decode("utf-8"), Loader=_Loader))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{file}: not a YAML file of CRDs: {str(exc).splitlines()[0]}") from None
    crds = []
    for doc in docs:
        if doc is None:
            continue
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            crds += doc["items"]  # what 'oc get crd -o yaml' prints for several
        else:
            crds.append(doc)
    if not crds:
        raise InputError(f"{file}: holds no CustomResourceDefinition")
    out: dict[tuple[str, str], dict] = {}
    for crd in crds:
        out.update(_schemas_of(crd, file))
    if cache is not None:
        cache.set_meta(key, json.dumps([[a, k, s] for (a, k), s in out.items()]))
    return digest, out


def _schemas_of(crd, file: Path) -> dict[tuple[str, str], dict]:
    if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition" or crd.get("apiVersion") != CRD_API:
        shown = f"{crd.get('kind')} ({crd.get('apiVersion')})" if isinstance(crd, dict) else type(crd).__name__
        raise InputError(f"{file}: {shown} is not a CustomResourceDefinition ({CRD_API})")
    spec = crd.get("spec") or {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    name = (crd.get("metadata") or {}).get("name", "?")
    if not isinstance(group, str) or not isinstance(kind, str):
        raise InputError(f"{file}: CRD {name} has no spec.group or spec.names.kind")
    out = {}
    for version in spec.get("versions") or []:
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) if isinstance(version, dict) else None
        if version.get("served") and isinstance(schema, dict):
            out[(f"{group}/{version['name']}", kind)] = _strict(_drop_nulls(schema))
    if not out:
        raise InputError(f"{file}: CRD {name} serves no version with an openAPIV3Schema")
    return out


def _drop_nulls(schema):
    """Generated CRDs carry ``anyOf: null`` (int-or-string); in JSON Schema that key must be absent."""
    if isinstance(schema, dict):
        return {k: _drop_nulls(v) for k, v in schema.items() if v is not None}
    if isinstance(schema, list):
        return [_drop_nulls(v) for v in schema]
    return schema


def _strict(schema):
    """Unknown fields are errors (the API server would prune a typo silently); ``nullable`` allows null."""
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        else:
            out[key] = value if key in ("default", "enum", "example") else _strict(value)
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if out.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _apply_defaults(obj, schema: dict) -> None:
    """Structural defaulting, which the API server does before it validates a custom resource."""
    if isinstance(obj, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name not in obj and "default" in sub:
                obj[name] = copy.deepcopy(sub["default"])
            if name in obj:
                _apply_defaults(obj[name], sub)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for item in obj:
            _apply_defaults(item, schema["items"])
