#!/usr/bin/env bash
# Container smoke test, with podman: build the image, run it with a named volume, ingest and
# search over HTTP, restart the container and search again (same results), then start a fresh
# container on the same volume with no network at all and check that search, generation and
# translation still work (the models are baked into the image).
#
# Needs: podman, runc, curl and python3 on the host; debootstrap and root to build the base image
# when it is missing (Debian: apt-get install -y podman buildah runc debootstrap curl).
# Takes 15-30 minutes on a first run (base image, ~1 GB of wheels), a few minutes after that.
#
# Settings (environment variables):
#   BASE_IMAGE        base for the build; built here with debootstrap (Debian bookworm, its
#                     CPython 3.11) when it is missing and named localhost/semsearch-base:*
#                     (default localhost/semsearch-base:bookworm)
#   IMAGE             tag of the image built (default localhost/semsearch:smoke)
#   TORCH_WHEEL       the torch CPU wheel to build with; by default ./wheels is used if it holds
#                     one, else `pip download` is asked for torch==2.13.0+cpu, else the build
#                     fetches it from the PyTorch CPU index
#   OCI_RUNTIME       podman's OCI runtime (default runc)
#   CONTAINER_ULIMITS ulimits given to the build and the containers (default:
#                     "nofile=<hard limit here>:<same> nproc=4096:4096"; podman's defaults are
#                     higher than an unprivileged host may grant)
#   SMOKE_PORT        host port, bound on 127.0.0.1 (default 18080)
#   READY_TIMEOUT_S   longest wait for /ready after a start (default 300)
#   DEBIAN_MIRROR     for debootstrap (default http://deb.debian.org/debian)
#   CA_BUNDLE         CA bundle copied into a debootstrapped base, so that pip inside the build
#                     trusts what this host trusts (default /etc/ssl/certs/ca-certificates.crt)
#   KEEP_IMAGE=0      remove the image at the end (the base image is always kept)
set -euo pipefail

cd "$(dirname "$0")/.."

BASE_IMAGE=${BASE_IMAGE:-localhost/semsearch-base:bookworm}
IMAGE=${IMAGE:-localhost/semsearch:smoke}
TORCH_VERSION=2.13.0
TORCH_WHEEL=${TORCH_WHEEL:-}
OCI_RUNTIME=${OCI_RUNTIME:-runc}
SMOKE_PORT=${SMOKE_PORT:-18080}
READY_TIMEOUT_S=${READY_TIMEOUT_S:-300}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
KEEP_IMAGE=${KEEP_IMAGE:-1}
NAME=semsearch-smoke-$$
VOLUME=semsearch-smoke-data-$$
COLLECTION=smoke
URL=http://127.0.0.1:${SMOKE_PORT}
API_KEY=smoke-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

hard_nofile=$(ulimit -Hn)
[[ $hard_nofile == unlimited ]] && hard_nofile=1048576
read -r -a ULIMITS <<<"${CONTAINER_ULIMITS:-nofile=${hard_nofile}:${hard_nofile} nproc=4096:4096}"
ULIMIT_ARGS=()
for u in "${ULIMITS[@]}"; do ULIMIT_ARGS+=(--ulimit "$u"); done
PODMAN=(podman --runtime "$OCI_RUNTIME")

WORK=$(mktemp -d /tmp/semsearch-smoke.XXXXXX)
STAGED_WHEEL=""
STARTED=$SECONDS
declare -a TIMINGS=()

log() { printf '[smoke %4ds] %s\n' "$((SECONDS - STARTED))" "$*" >&2; }
fail() {
    log "FAILED: $*"
    exit 1
}
quietly() { # quietly COMMAND...: its output goes to podman.log, shown if it fails
    "$@" >>"$WORK/podman.log" 2>&1 || { tail -n 20 "$WORK/podman.log" >&2; fail "$*"; }
}
timed() { # timed LABEL COMMAND...: run it and record how long it took
    local label=$1 t0=$SECONDS
    shift
    "$@"
    TIMINGS+=("$(printf '%-44s %5d s' "$label" "$((SECONDS - t0))")")
}

cleanup() {
    local rc=$?
    for c in "$NAME" "$NAME-offline"; do
        if "${PODMAN[@]}" container exists "$c" 2>/dev/null; then
            if ((rc != 0)); then
                log "last lines of $c's log:"
                "${PODMAN[@]}" logs --tail 40 "$c" >&2 || true
            fi
            "${PODMAN[@]}" rm -f -t 10 "$c" >>"$WORK/podman.log" 2>&1 || true
        fi
    done
    "${PODMAN[@]}" volume rm -f "$VOLUME" >/dev/null 2>&1 || true
    [[ -n $STAGED_WHEEL ]] && rm -f "$STAGED_WHEEL"
    [[ $KEEP_IMAGE == 0 ]] && "${PODMAN[@]}" rmi -f "$IMAGE" >/dev/null 2>&1
    if ((rc == 0)); then
        rm -rf "$WORK"
    else
        log "logs kept in $WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in podman curl python3; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (see the comment at the top)"
done
if curl -s -o /dev/null --max-time 2 "$URL/"; then
    fail "something already answers on $URL; set SMOKE_PORT"
fi

# -- the base image -----------------------------------------------------------------------------
build_base() {
    [[ $BASE_IMAGE == localhost/semsearch-base:* ]] ||
        fail "base image $BASE_IMAGE is missing; only localhost/semsearch-base:* is built here"
    command -v debootstrap >/dev/null || fail "debootstrap is needed to build $BASE_IMAGE"
    ((EUID == 0)) || fail "building $BASE_IMAGE with debootstrap needs root"
    local rootfs=$WORK/rootfs
    log "debootstrap: Debian bookworm with python3 into $rootfs (log: $WORK/debootstrap.log)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$rootfs" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
        { tail -n 20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; }
    if [[ -f $CA_BUNDLE ]]; then
        cp "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    fi
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | quietly "${PODMAN[@]}" import \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["/bin/bash"]' \
        - "$BASE_IMAGE"
    rm -rf "$rootfs"
}
if "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
    log "base image $BASE_IMAGE is there"
else
    timed "base image (debootstrap + podman import)" build_base
fi
base_python=$("${PODMAN[@]}" run --rm "${ULIMIT_ARGS[@]}" "$BASE_IMAGE" python3 -c \
    'import sys; print("%d.%d" % sys.version_info[:2])')
[[ $base_python == 3.11 ]] || fail "$BASE_IMAGE has Python $base_python; the torch wheel needs 3.11"

# -- the torch CPU wheel ------------------------------------------------------------------------
find_wheel() { find "$1" -maxdepth 1 -name "torch-${TORCH_VERSION}+cpu-cp311-*.whl" -print -quit; }
if [[ -n $(find_wheel wheels) ]]; then
    log "using $(find_wheel wheels)"
else
    if [[ -z $TORCH_WHEEL ]]; then
        log "asking pip for torch==${TORCH_VERSION}+cpu"
        if python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
            --dest "$WORK" "torch==${TORCH_VERSION}+cpu" >"$WORK/pip-download.log" 2>&1; then
            TORCH_WHEEL=$(find_wheel "$WORK")
        fi
    fi
    if [[ -n $TORCH_WHEEL ]]; then
        STAGED_WHEEL=wheels/$(basename "$TORCH_WHEEL")
        ln "$TORCH_WHEEL" "$STAGED_WHEEL" 2>/dev/null || cp "$TORCH_WHEEL" "$STAGED_WHEEL"
        log "staged $TORCH_WHEEL in wheels/ for the build (removed at the end)"
    else
        log "no local torch CPU wheel: the build fetches it from the PyTorch CPU index"
    fi
fi

# -- the image ----------------------------------------------------------------------------------
build_image() {
    log "podman build -> $IMAGE (log: $WORK/build.log)"
    # --format docker: the OCI image format has no HEALTHCHECK, podman would drop it.
    "${PODMAN[@]}" build --format docker --pull=never "${ULIMIT_ARGS[@]}" \
        --build-arg BASE_IMAGE="$BASE_IMAGE" --tag "$IMAGE" . >"$WORK/build.log" 2>&1 ||
        { tail -n 40 "$WORK/build.log" >&2; fail "podman build"; }
}
timed "podman build" build_image
log "image size: $("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE" |
    awk '{printf "%.0f MB", $1 / 1e6}')"

# -- helpers ------------------------------------------------------------------------------------
api() { # api METHOD PATH [JSON]: the reply body; fails on an HTTP error
    local args=(--silent --show-error --fail-with-body --max-time 120 -X "$1"
        -H "Authorization: Bearer $API_KEY" "$URL$2")
    [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' --data "$3")
    curl "${args[@]}"
}
wait_ready() { # wait_ready CONTAINER: until /ready answers 200, bounded by READY_TIMEOUT_S
    local deadline=$((SECONDS + READY_TIMEOUT_S))
    until curl -fs -o /dev/null --max-time 5 "$URL/ready"; do
        [[ $("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$1") == true ]] ||
            fail "$1 exited before it was ready"
        ((SECONDS < deadline)) || fail "$1 not ready after ${READY_TIMEOUT_S}s"
        sleep 1
    done
}
hits() { # the ranked "id score" lines of a search reply on stdin
    python3 -c '
import json, sys
for hit in json.load(sys.stdin)["results"]:
    print(hit["id"], "%.5f" % hit["score"])'
}
search_all() { # one line per query: the query, then its ranked hits
    local q
    for q in "a cat sleeping on a rug" "how do I bake bread" "stars and planets in space"; do
        printf '%s -> %s\n' "$q" "$(api POST "/collections/$COLLECTION/search" \
            "{\"query\": \"$q\", \"k\": 3}" | hits | tr '\n' ' ')"
    done
}
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

# -- run, ingest, search ------------------------------------------------------------------------
quietly "${PODMAN[@]}" volume create "$VOLUME"
run_service() {
    # (podman without systemd logs that it cannot schedule the health check: podman.log)
    quietly "${PODMAN[@]}" run --detach --name "$NAME" "${ULIMIT_ARGS[@]}" \
        --publish "127.0.0.1:${SMOKE_PORT}:8000" --volume "$VOLUME:/data" \
        --env "SEMSEARCH_API_KEYS=$API_KEY:admin" "$IMAGE"
    wait_ready "$NAME"
}
timed "first start to /ready" run_service

uid=$("${PODMAN[@]}" exec "$NAME" id -u)
[[ $uid != 0 ]] || fail "the service runs as root"
log "service runs as uid $uid"
quietly "${PODMAN[@]}" healthcheck run "$NAME"
log "HEALTHCHECK passes"

documents='{"documents": [
  {"id": "cat", "text": "The cat sleeps all afternoon on the warm living room carpet."},
  {"id": "bread", "text": "Knead the dough, let it rise for an hour, then bake the loaf at 220 degrees."},
  {"id": "space", "text": "Jupiter is the largest planet orbiting our star, the Sun."},
  {"id": "train", "text": "The night train to Vienna leaves from platform nine."},
  {"id": "tax", "text": "Income tax returns are due at the end of April."}]}'
timed "ingest 5 documents" api POST "/collections/$COLLECTION/documents" "$documents" >/dev/null
before=$(search_all)
printf '%s\n' "$before" >&2
for pair in "cat sleeping:cat" "bake bread:bread" "stars and planets:space"; do
    grep -q "${pair%%:*}.* -> ${pair##*:} " <<<"$before" ||
        fail "the best hit for '${pair%%:*}' is not '${pair##*:}'"
done

# -- restart: the same results from the volume --------------------------------------------------
restart() {
    quietly "${PODMAN[@]}" restart -t 30 "$NAME"
    wait_ready "$NAME"
}
timed "podman restart to /ready" restart
after=$(search_all)
[[ $after == "$before" ]] || fail "search results changed across the restart:
before:
$before
after:
$after"
count=$(api GET "/collections/$COLLECTION" | json_field '["documents"]')
[[ $count == 5 ]] || fail "the collection holds $count documents after the restart, not 5"
log "after the restart: 5 documents, the same ranked results"
quietly "${PODMAN[@]}" rm -f -t 30 "$NAME"

# -- no network at all: the baked-in models are enough -------------------------------------------
# A container with --network none publishes no port, so the checks run inside it.
offline_check='
import json, os, time, urllib.request
base = "http://127.0.0.1:8000"
headers = {"Authorization": "Bearer " + os.environ["SMOKE_KEY"], "Content-Type": "application/json"}
def call(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=300) as reply:
        return json.load(reply)
deadline = time.monotonic() + float(os.environ["READY_TIMEOUT_S"])
while True:
    try:
        call("/ready")
        break
    except OSError:
        if time.monotonic() > deadline:
            raise SystemExit("not ready in time")
        time.sleep(1)
hits = call("/collections/smoke/search", {"query": "a cat sleeping on a rug", "k": 1})["results"]
assert hits and hits[0]["id"] == "cat", hits
text = call("/generate", {"prompt": "The capital of France is", "max_new_tokens": 8})["text"]
assert text.strip(), "empty generation"
translated = call("/translate", {"text": "Good morning", "source": "en", "target": "pt"})
print("search:", hits[0]["id"], "| generate:", repr(text), "| translate:", translated["translations"])
'
offline() {
    quietly "${PODMAN[@]}" run --detach --name "$NAME-offline" --network none "${ULIMIT_ARGS[@]}" \
        --volume "$VOLUME:/data" --env "SEMSEARCH_API_KEYS=$API_KEY:admin" "$IMAGE"
    "${PODMAN[@]}" exec --env "SMOKE_KEY=$API_KEY" --env "READY_TIMEOUT_S=$READY_TIMEOUT_S" \
        "$NAME-offline" python3 -c "$offline_check" >&2
}
timed "offline start + search, generate, translate" offline

log "PASSED"
printf '%s\n' "${TIMINGS[@]}" "$(printf '%-44s %5d s' total "$((SECONDS - STARTED))")" >&2
