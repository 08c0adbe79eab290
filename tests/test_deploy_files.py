"""The Dockerfile, docker-compose.yml and .dockerignore agree with each other and with the
settings; the linters that `make lint` runs on them reject broken files."""

import fnmatch
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
SETTING_NAME = re.compile(r"\bSEMSEARCH_[A-Z0-9_]+")
BUILD_CONTEXT_EXCLUDED = [".venv", "index_data", ".git", ".pytest_cache", "benchmarks"]


@dataclass
class Instruction:
    keyword: str
    args: str


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines()))
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            found.append(Instruction(keyword.upper(), args.strip()))
    return found


def stages(text: str) -> list[list[Instruction]]:
    """Instructions grouped by stage; the first group holds what comes before the first FROM."""
    groups: list[list[Instruction]] = [[]]
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            groups.append([])
        groups[-1].append(instruction)
    return groups


def key_values(instructions: list[Instruction], keyword: str) -> dict[str, str]:
    """NAME=value pairs of every ENV or ARG instruction of a stage."""
    pairs: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == keyword:
            for token in instruction.args.split():
                name, _, value = token.partition("=")
                pairs[name] = value
    return pairs


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return DOCKERFILE.read_text()


@pytest.fixture(scope="module")
def runtime(dockerfile: str) -> list[Instruction]:
    return stages(dockerfile)[-1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def in_profile(compose: dict, profile: str | None) -> dict[str, dict]:
    """The services a profile adds (None: those that run by default, with no profile)."""
    return {
        name: spec
        for name, spec in compose["services"].items()
        if (profile in spec.get("profiles", [])) or (profile is None and "profiles" not in spec)
    }


@pytest.fixture(scope="module")
def service(compose: dict) -> dict:
    """The service `docker compose up` runs: the only one outside a profile."""
    assert list(in_profile(compose, None)) == ["semsearch"]
    return compose["services"]["semsearch"]


@pytest.fixture(scope="module")
def postgres_profile(compose: dict) -> dict[str, dict]:
    services = in_profile(compose, "postgres")
    assert set(services) | {"semsearch"} == set(compose["services"]), "every other service"
    assert all(spec["profiles"] == ["postgres"] for spec in services.values())
    return services


def test_every_stage_builds_on_the_base_image_argument(dockerfile: str) -> None:
    before_first_stage, *built = stages(dockerfile)
    assert key_values(before_first_stage, "ARG")["BASE_IMAGE"] == "python:3.11-slim"
    assert len(built) >= 2, "multi-stage: a builder and a runtime"
    for stage in built:
        assert stage[0].args.split()[0] == "${BASE_IMAGE}", stage[0]


def test_runtime_runs_as_a_numeric_non_root_user(runtime: list[Instruction]) -> None:
    users = [i.args for i in runtime if i.keyword == "USER"]
    assert len(users) == 1
    uid = key_values(runtime, "ARG")["APP_UID"]
    resolved = users[0].replace("${APP_UID}", uid)
    assert re.fullmatch(r"\d+:\d+", resolved) and not resolved.startswith("0:"), resolved


def test_runtime_serves_on_all_interfaces_offline_with_data_in_the_volume(
    runtime: list[Instruction],
) -> None:
    env = key_values(runtime, "ENV")
    assert env["SEMSEARCH_HOST"] == "0.0.0.0"
    assert env["HF_HUB_OFFLINE"] == "1"
    volumes = [i.args for i in runtime if i.keyword == "VOLUME"]
    assert volumes == [f'["{env["SEMSEARCH_DATA_DIR"]}"]']
    assert [i.args for i in runtime if i.keyword == "EXPOSE"] == [env["SEMSEARCH_PORT"]]
    healthchecks = [i.args for i in runtime if i.keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1 and "/health'" in healthchecks[0]


def test_every_setting_named_in_the_deploy_files_exists(dockerfile: str) -> None:
    known = {f"SEMSEARCH_{name.upper()}" for name in Settings.model_fields}
    for path in (DOCKERFILE, COMPOSE):
        named = set(SETTING_NAME.findall(path.read_text()))
        assert named, path
        assert named <= known, f"{path.name}: {sorted(named - known)} are not settings"


def test_compose_keeps_data_in_a_named_volume_at_the_images_data_dir(
    compose: dict, service: dict, runtime: list[Instruction]
) -> None:
    data_dir = key_values(runtime, "ENV")["SEMSEARCH_DATA_DIR"]
    mounts = [entry.split(":") for entry in service["volumes"]]
    assert [m[1] for m in mounts] == [data_dir]
    volume = mounts[0][0]
    assert not volume.startswith((".", "/")), "a named volume, not a bind mount"
    assert volume in compose["volumes"]


def test_compose_publishes_the_service_port_with_a_health_check(
    service: dict, runtime: list[Instruction]
) -> None:
    port = key_values(runtime, "ENV")["SEMSEARCH_PORT"]
    assert [p.rsplit(":", 1)[1] for p in service["ports"]] == [port]
    assert service["ports"][0].startswith("127.0.0.1:"), "loopback unless the user opens it"
    assert f"127.0.0.1:{port}/health" in " ".join(service["healthcheck"]["test"])


def test_compose_build_arguments_are_dockerfile_arguments(compose: dict, dockerfile: str) -> None:
    declared = {i.args.split("=")[0] for i in instructions(dockerfile) if i.keyword == "ARG"}
    built = [spec for spec in compose["services"].values() if "build" in spec]
    assert built
    for spec in built:
        assert spec["build"]["context"] == "."
        assert set(spec["build"]["args"]) <= declared


def test_the_postgres_profile_is_pgvector_and_two_replicas_of_the_image(
    compose: dict, service: dict, postgres_profile: dict[str, dict], runtime: list[Instruction]
) -> None:
    databases = {n: s for n, s in postgres_profile.items() if "pgvector" in s["image"]}
    assert len(databases) == 1
    (db_name, db), *_ = databases.items()
    image, _, tag = db["image"].partition(":")
    assert image == "pgvector/pgvector" and tag and tag != "latest", "a pinned pgvector image"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    data = [m.split(":") for m in db["volumes"]]
    assert [m[1] for m in data] == ["/var/lib/postgresql/data"] and data[0][0] in compose["volumes"]
    assert "ports" not in db, "the database stays on the compose network"

    replicas = {n: s for n, s in postgres_profile.items() if n != db_name}
    assert len(replicas) == 2
    port = key_values(runtime, "ENV")["SEMSEARCH_PORT"]
    published = []
    for name, replica in replicas.items():
        assert replica["image"] == service["image"], name
        assert replica["depends_on"][db_name]["condition"] == "service_healthy", name
        url = replica["environment"]["SEMSEARCH_DATABASE_URL"]
        match = re.fullmatch(r"postgresql://(\w+):[^@]+@([\w-]+):5432/(\w+)", url)
        assert match, url
        env = db["environment"]
        assert match.groups() == (env["POSTGRES_USER"], db_name, env["POSTGRES_DB"]), url
        assert f"127.0.0.1:{port}/health" in " ".join(replica["healthcheck"]["test"])
        [mapping] = replica["ports"]
        assert mapping.startswith("127.0.0.1:") and mapping.endswith(f":{port}"), mapping
        published.append(mapping)
    assert len(set(published)) == 2, "each replica on a port of its own"
    assert not set(published) & set(service["ports"])


def dockerignore_excludes(path: str) -> bool:
    """Whether .dockerignore keeps path out of the build context (last matching rule wins)."""
    excluded = False
    for line in DOCKERIGNORE.read_text().splitlines():
        rule = line.strip()
        if not rule or rule.startswith("#"):
            continue
        negated = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) for p in [*prefixes, path]) or (
            pattern.startswith("**/") and any(fnmatch.fnmatch(p, pattern[3:]) for p in parts)
        ):
            excluded = not negated
    return excluded


def test_build_context_holds_what_the_dockerfile_copies_and_nothing_heavy(
    dockerfile: str,
) -> None:
    sources = [
        source
        for i in instructions(dockerfile)
        if i.keyword == "COPY" and "--from=" not in i.args
        for source in i.args.split()[:-1]
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not dockerignore_excludes(source.rstrip("/")), source
    for path in [*BUILD_CONTEXT_EXCLUDED, "app/__pycache__", "app/api/__pycache__/x.pyc"]:
        assert dockerignore_excludes(path), path


def linter(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_hadolint_passes_the_dockerfile_and_rejects_a_careless_one(tmp_path: Path) -> None:
    hadolint = linter("hadolint")
    good = run(hadolint, str(DOCKERFILE))
    assert good.returncode == 0, good.stdout + good.stderr
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM debian\nRUN apt-get update && apt-get install -y curl\n")
    bad = run(hadolint, str(careless))
    assert bad.returncode != 0
    assert "DL3006" in bad.stdout and "DL3008" in bad.stdout, bad.stdout  # untagged, unpinned


def test_compose_schema_check_passes_the_file_and_names_what_is_wrong(tmp_path: Path) -> None:
    check = linter("check-jsonschema")
    command = [check, "--builtin-schema", "vendor.compose-spec"]
    good = run(*command, str(COMPOSE))
    assert good.returncode == 0, good.stdout + good.stderr
    broken = yaml.safe_load(COMPOSE.read_text())
    service = broken["services"]["semsearch"]
    service["ports"] = 8000
    service["helthcheck"] = service.pop("healthcheck")
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    bad = run(*command, str(path))
    assert bad.returncode != 0
    assert "ports" in bad.stdout and "helthcheck" in bad.stdout, bad.stdout
