# The one image of Craved CRM's server mode: every process (command node, query
# node, relay, workers) is this image with a different `crm ...` command.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY . .
RUN pip install . \
    && useradd --create-home --uid 10001 crm \
    && mkdir -p /var/lib/crm && chown crm /var/lib/crm

USER crm
ENV CRM_DATA_DIR=/var/lib/crm
VOLUME ["/var/lib/crm"]
ENTRYPOINT ["crm"]
CMD ["--help"]
