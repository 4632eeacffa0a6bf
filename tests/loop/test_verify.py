"""verify: checks against a real Prometheus on loopback (data backfilled with promtool), verdicts recorded in Git."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.config.load import load_config
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.gitstore.verifications import BRANCH, read
from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B
from testing.prometheus_server import PrometheusServer, running
from testing.repos import git, ship

NAN = float("nan")
SERIES = [
    ("model_p99_latency_seconds", {"model": "fraud-detector", "site": "datacenter"}, [0.2, 0.12]),
    ("model_p99_latency_seconds", {"model": "fraud-detector", "site": "cloud"}, [0.1]),
    ("model_p99_latency_seconds", {"model": "fraud-detector", "site": "berlin-01"}, [0.5]),
    ("model_p99_latency_seconds", {"model": "fraud-detector", "site": "singapore-01"}, [NAN]),
    ("model_p99_latency_seconds", {"model": "fraud-detector", "site": "singapore-01", "pod": "b"}, [0.1]),
    ("model_p99_latency_seconds", {"model": "other", "site": "austin-01"}, [0.1]),  # austin-01 has no fraud-detector series
    ("flapping_latency_seconds", {"site": "datacenter"}, [0.12, 0.5, 0.12]),
]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    with running(tmp_path_factory.mktemp("prometheus"), SERIES) as server:
        yield server


def with_checks(repo, address: str, condition: str = "max(result) < 0.25", query: str = "", extra: str = "", push: bool = False) -> None:
    """A latency check at every stage, committed (and pushed)."""
    query = query or 'model_p99_latency_seconds{model="{{args.model}}", site=~"{{args.site}}"}'
    check = (
        "    checks:\n"
        "      - name: latency\n"
        f"        provider: {{prometheus: {{address: '{address}'}}}}\n"
        f"        query: '{query}'\n"
        f"        successCondition: '{condition}'\n"
        f"{extra}"
    )
    path = repo.work / "gitops-mlops.yaml"
    text = path.read_text()
    for stage in ("datacenter", "cloud", "edge"):
        text = text.replace(f"  - name: {stage}\n", f"  - name: {stage}\n{check}", 1)
    path.write_text(text)
    repo.git("commit", "-qam", "checks")
    if push:
        repo.git("push", "-q", "origin", "main")


def test_a_passing_site_is_verified_recorded_and_pushed(gitops_repo, prometheus):
    with_checks(gitops_repo, prometheus.address, push=True)
    head = gitops_repo.head()
    result = cli("verify", "fraud-detector", "--site", "datacenter", "--push", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["verdict"] == "successful" and data["requests"] == 1 and data["pushed"] is True
    (site,) = data["results"]
    assert site["site"] == "datacenter" and site["version"] == "1.0.0" and site["checks"][0]["values"] == [0.12]
    assert gitops_repo.head() == head == gitops_repo.remote_head() and gitops_repo.git("status", "--porcelain") == ""  # main untouched
    assert git(gitops_repo.remote, "rev-parse", f"refs/heads/{BRANCH}").strip() == data["recorded"]
    fresh = gitops_repo.clone("fresh")
    (record,) = read(GitRepo(fresh.work), load_config(fresh.work), "fraud-detector")
    assert (record.site, record.verdict, record.version) == ("datacenter", "successful", "1.0.0") and record.digest.startswith("sha256:")


def test_one_query_per_check_and_stage_and_each_verdict(gitops_repo, prometheus):
    with_checks(gitops_repo, prometheus.address)
    result = cli("verify", "fraud-detector", "--site", "edge", "--site", "cloud", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 3, result.err
    data = json.loads(result.out)
    assert data["requests"] == 2  # cloud, and the three edge sites in one query
    verdicts = {s["site"]: (s["verdict"], sorted(s["checks"][0]["values"], key=str)) for s in data["results"]}
    assert verdicts == {
        "cloud": ("successful", [0.1]),
        "edge/berlin-01": ("failed", [0.5]),
        "edge/austin-01": ("inconclusive", []),  # no series for it
        "edge/singapore-01": ("failed", [0.1, "NaN"]),  # several series; the max of a NaN is NaN, which compares false
    }
    last = result.err.strip().splitlines()[-1]  # every failed site is named, grouped by check and verdict
    assert last.startswith("error: 3 of 4 sites did not pass: ")
    assert "latency failed at edge/berlin-01, edge/singapore-01" in last
    assert "latency inconclusive at edge/austin-01" in last


def test_the_table_names_site_check_verdict_values_and_why(gitops_repo, prometheus):
    with_checks(gitops_repo, prometheus.address)
    result = cli("verify", "fraud-detector", "--site", "edge/austin-01", "--site", "edge/berlin-01", "--no-record", cwd=gitops_repo.work)
    assert result.code == 3
    lines = {line.split()[0]: line.split() for line in result.out.splitlines()[1:]}
    assert lines["edge/berlin-01"][4:7] == ["latency", "failed", "0.5"]
    assert lines["edge/austin-01"][4:6] == ["latency", "inconclusive"] and "no series with site=<site>" in result.out
    assert git(gitops_repo.work, "branch", "--list", BRANCH).strip() == ""  # --no-record


def test_monitoring_down_or_a_bad_query_is_exit_7_and_records_nothing(gitops_repo, prometheus):
    from testing.registry_server import free_port

    with_checks(gitops_repo, f"http://127.0.0.1:{free_port()}")
    down = cli("verify", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work)
    assert down.code == 7 and "unreachable" in down.err and len([x for x in down.err.splitlines() if x.startswith("error")]) == 1
    gitops_repo.git("reset", "-q", "--hard", "HEAD~1")
    with_checks(gitops_repo, prometheus.address, query="model_p99_latency_seconds{site=")
    bad = cli("verify", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work)
    assert bad.code == 7 and "bad_data" in bad.err and "parse error" in bad.err
    assert git(gitops_repo.work, "branch", "--list", BRANCH).strip() == ""


def test_verify_reads_the_digest_the_site_renders(gitops_repo, prometheus):
    with_checks(
        gitops_repo, prometheus.address, query='model_p99_latency_seconds{site=~"{{args.site}}"} * 0 + {{args.version}}'.replace("{{args.version}}", "1")
    )
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    result = cli("verify", "fraud-detector", "--site", "datacenter", "-o", "json", cwd=gitops_repo.work)
    data = json.loads(result.out)
    assert data["results"][0]["digest"] == DIGEST_B and data["results"][0]["version"] == "1.4.0"


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("        intervall: 1m\n", "unknown key 'intervall'"),
        ("        failureCondition: 'result[0] >'\n", "failureCondition: condition 'result[0] >' does not parse"),
        ("        action: page\n", "action 'page' is not one of none, rollback, retrain"),
        ("        interval: soon\n", "duration 'soon' is not like 30s"),
    ],
)
def test_bad_check_config_is_one_line_exit_2(gitops_repo, prometheus, extra, needle):
    with_checks(gitops_repo, prometheus.address, extra=extra)
    result = cli("verify", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work)
    assert result.code == 2 and needle in result.err and len(result.err.strip().splitlines()) == 1


def test_status_shows_the_verification_of_what_each_site_runs(gitops_repo, prometheus):
    with_checks(gitops_repo, prometheus.address, push=True)
    assert cli("verify", "fraud-detector", "--site", "datacenter", "--site", "edge/berlin-01", "--push", cwd=gitops_repo.work).code == 3
    fresh = gitops_repo.clone("fresh")
    rows = {r["site"]: r["verification"] for r in json.loads(cli("status", "--model", "fraud-detector", "-o", "json", cwd=fresh.work).out)}
    assert rows["datacenter"]["verdict"] == "successful" and rows["edge/berlin-01"]["verdict"] == "failed" and rows["cloud"] is None
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")  # a new digest: its verification is still to come
    rows = {r["site"]: r["verification"] for r in json.loads(cli("status", "--model", "fraud-detector", "-o", "json", cwd=gitops_repo.work).out)}
    assert rows["datacenter"] is None
    table = cli("status", "--model", "fraud-detector", cwd=gitops_repo.work).out
    assert "verify:failed" in next(line for line in table.splitlines() if "edge/berlin-01" in line)


def test_a_stage_that_requires_verified_builds_waits_for_the_stage_before(gitops_repo, prometheus):
    with_checks(gitops_repo, prometheus.address)
    path = gitops_repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("  - name: cloud\n", "  - name: cloud\n    requireVerified: true\n", 1))
    gitops_repo.git("commit", "-qam", "cloud requires verified builds")
    gitops_repo.git("push", "-q", "origin", "main")
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", push=True)
    head = gitops_repo.head()
    image = f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}"
    refused = cli("promote", "fraud-detector", image, "--to", "cloud", "--no-verify", cwd=gitops_repo.work)
    assert refused.code == 3 and "stage cloud requires verified builds" in refused.err and "at datacenter" in refused.err
    assert gitops_repo.head() == head
    assert cli("verify", "fraud-detector", "--site", "datacenter", "--push", cwd=gitops_repo.work).code == 0
    passed = cli("promote", "fraud-detector", image, "--to", "cloud", "--no-verify", cwd=gitops_repo.work)
    assert passed.code == 0, passed.err
    forced = cli(
        "promote", "demand-forecast", f"quay.io/example/demand-forecast:1.4.0@{DIGEST_B}", "--to", "cloud", "--force-order", "--no-verify", cwd=gitops_repo.work
    )
    assert forced.code == 0, forced.err
    assert "Forced: true" in gitops_repo.git("log", "-1", "--format=%B")  # the override is recorded


# ------------------------------------------------------------------ acting on failures


class Listener:
    """A real HTTP listener on loopback that takes retraining triggers and checks their signature."""

    def __init__(self, secret: str, status: int = 202) -> None:
        import hashlib
        import hmac

        from testing.loopback_http import LoopbackServer, QuietHandler

        self.received: list[tuple[dict, dict, bool]] = []  # (headers, body, signature valid)
        listener = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                parsed = json.loads(body) if body.startswith(b"{") else {}
                listener.received.append((dict(self.headers), parsed, hmac.compare_digest(expected, self.headers.get("X-Hub-Signature-256", ""))))
                self.send_response(status)
                self.end_headers()

        self.loopback = LoopbackServer(Handler)
        self.url = f"http://{self.loopback.host}/hooks/retrain"

    def close(self) -> None:
        self.loopback.close()


def acting_config(repo, address: str, edge_action: str = "rollback", datacenter_action: str = "retrain", url: str = "") -> None:
    def check(name: str, condition: str, action: str) -> str:
        return (
            "    checks:\n"
            f"      - name: {name}\n"
            f"        provider: {{prometheus: {{address: '{address}'}}}}\n"
            '        query: \'model_p99_latency_seconds{model="{{args.model}}", site=~"{{args.site}}"}\'\n'
            f"        successCondition: '{condition}'\n"
            f"        action: {action}\n"
        )

    path = repo.work / "gitops-mlops.yaml"
    text = path.read_text()
    text = text.replace("  - name: datacenter\n", "  - name: datacenter\n" + check("drift", "max(result) < 0.1", datacenter_action), 1)
    text = text.replace("  - name: edge\n", "  - name: edge\n" + check("latency", "max(result) < 0.25", edge_action), 1)
    text += f"retrain:\n  url: {url or 'http://127.0.0.1:9/unused'}\n  secretEnv: RETRAIN_SECRET\n"
    path.write_text(text)
    repo.git("commit", "-qam", "checks that act")
    repo.git("push", "-q", "origin", "main")


def test_a_failed_rollback_check_rolls_the_failed_sites_back_once_and_holds_the_digest(gitops_repo, prometheus):
    acting_config(gitops_repo, prometheus.address)
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter", "cloud", "edge", push=True)  # a release to roll back to
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge", push=True)
    result = cli("verify", "fraud-detector", "--site", "edge", "--act", "--push", cwd=gitops_repo.work)
    assert result.code == 3
    assert "rolled back edge/berlin-01, edge/singapore-01 in commit" in result.err and "pushed" in result.err
    message = gitops_repo.git("log", "-1", "--format=%B", "origin/main")
    assert "Action: rollback" in message and "Reason: check latency failed at edge/berlin-01 (and 1 more sites): values [0.5]" in message
    config = gitops_repo.read("gitops-mlops.yaml")
    assert config.count(f"digest: {DIGEST_B}") == 2 and "check latency failed" in config  # both held, with the reason
    head = gitops_repo.remote_head()
    again = cli("verify", "fraud-detector", "--site", "edge", "--act", "--push", cwd=gitops_repo.work)
    assert again.code == 3 and "rolled back edge/" not in again.err and "is not what its latest promotion brought; not rolled back" in again.err
    assert gitops_repo.remote_head() == head  # never past the digest it ran before; nothing new to do, nothing committed


def test_a_failed_retrain_check_sends_one_signed_trigger(gitops_repo, prometheus):
    listener = Listener("s3cret")
    try:
        acting_config(gitops_repo, prometheus.address, edge_action="none", url=listener.url)
        env = {"RETRAIN_SECRET": "s3cret"}
        result = cli("verify", "fraud-detector", "--site", "datacenter", "--act", "--push", cwd=gitops_repo.work, env=env)
        assert result.code == 3 and "sent 1 retraining trigger(s)" in result.err, result.err
        ((headers, body, signed),) = listener.received
        assert signed and headers["Idempotency-Key"] == body["idempotencyKey"]
        assert (body["model"], body["sites"], body["check"], body["values"]) == ("fraud-detector", ["datacenter"], "drift", {"datacenter": [0.12]})
        assert body["digest"].startswith("sha256:") and body["version"] == "1.0.0" and "s3cret" not in result.err + result.out
        again = cli("verify", "fraud-detector", "--site", "datacenter", "--act", "--push", cwd=gitops_repo.work, env=env)
        assert again.code == 3 and "sent before; not sent again" in again.err and len(listener.received) == 1
    finally:
        listener.close()


def test_a_trigger_url_that_refuses_is_exit_7_and_is_not_recorded_as_sent(gitops_repo, prometheus):
    listener = Listener("s3cret", status=403)
    try:
        acting_config(gitops_repo, prometheus.address, edge_action="none", url=listener.url)
        result = cli("verify", "fraud-detector", "--site", "datacenter", "--act", cwd=gitops_repo.work, env={"RETRAIN_SECRET": "s3cret"})
        assert result.code == 7 and f"retrain trigger {listener.url}: HTTP 403 (after 1 attempt(s))" in result.err
        assert len(listener.received) == 1  # a refusal is not retried
        again = cli("verify", "fraud-detector", "--site", "datacenter", "--act", cwd=gitops_repo.work, env={"RETRAIN_SECRET": "s3cret"})
        assert again.code == 7 and len(listener.received) == 2  # not recorded as sent: asked again
    finally:
        listener.close()


def test_a_check_that_flaps_within_its_failure_limit_passes_and_beyond_it_fails(gitops_repo, prometheus):
    """The measurements are evaluated at chosen times against the real Prometheus: 0.12, 0.5, 0.12 a minute apart."""
    from gitops_mlops.loop.verify import Run, verify

    class Clock:
        def __init__(self, start: float) -> None:
            self.now = start

        def __call__(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.now += seconds

    for limit, verdict in ((1, "successful"), (0, "failed")):
        extra = f"        interval: 1m\n        count: 3\n        failureLimit: {limit}\n"
        with_checks(gitops_repo, prometheus.address, query='flapping_latency_seconds{site=~"{{args.site}}"}', extra=extra)
        clock = Clock(prometheus.now - 145)  # just after the first of the three samples
        report = verify(gitops_repo.work, "fraud-detector", ("datacenter",), Run(record=False, sleep=clock.sleep, clock=clock))
        (check,) = report.sites[0].checks
        assert check.phases == ("successful", "failed", "successful") and check.verdict == verdict
        assert report.requests == 3
        gitops_repo.git("reset", "-q", "--hard", "HEAD~1")


def test_https_with_the_configured_ca_and_a_bearer_token(gitops_repo, tmp_path):
    """A real Prometheus behind TLS (its web config) checked against caFile; the bearer token is sent and never shown."""
    try:
        server = PrometheusServer(tmp_path / "tls", tls=True).start(SERIES)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        provider = f"provider: {{prometheus: {{address: '{server.address}', caFile: '{server.ca_file}', bearerTokenEnv: PROM_TOKEN}}}}"
        path = gitops_repo.work / "gitops-mlops.yaml"
        with_checks(gitops_repo, server.address)
        path.write_text(path.read_text().replace(f"provider: {{prometheus: {{address: '{server.address}'}}}}", provider))
        gitops_repo.git("commit", "-qam", "TLS and a token")
        result = cli("verify", "fraud-detector", "--site", "datacenter", "--no-record", cwd=gitops_repo.work, env={"PROM_TOKEN": "tok-9f3e-secret"})
        assert result.code == 0, result.err
        unset = cli("verify", "fraud-detector", "--site", "datacenter", "--no-record", cwd=gitops_repo.work, env={"PROM_TOKEN": ""})
        assert unset.code == 2 and "bearerTokenEnv names PROM_TOKEN, which is not set" in unset.err
        path.write_text(path.read_text().replace(f", caFile: '{server.ca_file}'", ""))
        gitops_repo.git("commit", "-qam", "no CA")
        untrusted = cli("verify", "fraud-detector", "--site", "datacenter", "--no-record", cwd=gitops_repo.work, env={"PROM_TOKEN": "tok-9f3e-secret"})
        assert untrusted.code == 7 and "CERTIFICATE_VERIFY_FAILED" in untrusted.err and "tok-9f3e-secret" not in untrusted.err
    finally:
        server.stop()


def test_the_bearer_token_goes_in_the_authorization_header(gitops_repo):
    """Prometheus itself takes no bearer tokens (a proxy in front of it does): a contract test on what is sent."""
    listener = Listener("unused", status=200)
    try:
        with_checks(gitops_repo, listener.url.rsplit("/hooks", 1)[0])
        path = gitops_repo.work / "gitops-mlops.yaml"
        path.write_text(path.read_text().replace("address: 'http", "bearerTokenEnv: PROM_TOKEN, address: 'http"))
        gitops_repo.git("commit", "-qam", "a token")
        result = cli("verify", "fraud-detector", "--site", "datacenter", "--no-record", cwd=gitops_repo.work, env={"PROM_TOKEN": "tok-1"})
        assert result.code == 7 and "the answer is not JSON: not a Prometheus API" in result.err  # the listener is no Prometheus
        (headers, _, _) = listener.received[0]
        assert headers["Authorization"] == "Bearer tok-1"
    finally:
        listener.close()


def test_watch_verifies_and_acts_each_run(gitops_repo, prometheus):
    acting_config(gitops_repo, prometheus.address)
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter", "cloud", "edge", push=True)  # a release to roll back to
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge", push=True)
    result = cli("watch", "fraud-detector", "--site", "edge", "--interval", "0s", "--times", "2", "--push", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    runs = [line for line in result.err.splitlines() if line.startswith("fraud-detector: ")]
    assert len(runs) == 2 and all("at 3 sites, 1 query" in r for r in runs)  # one query for the stage, whatever builds its sites run
    assert result.err.count("rolled back edge/berlin-01, edge/singapore-01") == 1  # the second run finds nothing new to do


def test_a_query_that_names_the_build_is_asked_once_per_build_of_the_stage(gitops_repo, prometheus):
    with_checks(
        gitops_repo, prometheus.address, query='model_p99_latency_seconds{site=~"{{args.site}}"} * 0 + {{args.version}}'.replace("{{args.version}}", "0")
    )
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge/berlin-01")
    plain = json.loads(cli("verify", "fraud-detector", "--site", "edge", "--no-record", "-o", "json", cwd=gitops_repo.work).out)
    assert plain["requests"] == 1
    gitops_repo.git("reset", "-q", "--hard", "HEAD~4")
    with_checks(gitops_repo, prometheus.address, query='model_p99_latency_seconds{site=~"{{args.site}}", digest!="{{args.digest}}"}')
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge/berlin-01")
    per_build = json.loads(cli("verify", "fraud-detector", "--site", "edge", "--no-record", "-o", "json", cwd=gitops_repo.work).out)
    assert per_build["requests"] == 2  # berlin-01 runs 1.4.0, the others 1.0.0


def test_a_trigger_that_fails_on_the_server_is_retried_with_backoff(gitops_repo, prometheus):
    listener = Listener("s3cret", status=503)
    try:
        acting_config(gitops_repo, prometheus.address, edge_action="none", url=listener.url)
        result = cli("verify", "fraud-detector", "--site", "datacenter", "--act", cwd=gitops_repo.work, env={"RETRAIN_SECRET": "s3cret"})
        assert result.code == 7 and "HTTP 503 (after 3 attempt(s))" in result.err
        keys = {headers["Idempotency-Key"] for headers, _, _ in listener.received}
        assert len(listener.received) == 3 and len(keys) == 1  # the same trigger each time: the listener can tell
    finally:
        listener.close()
