# moat in a container: Debian 12 slim with the .deb inside, serving as the
# unprivileged moat user. Build the package first (`make deb`), then:
#   docker build -t moat .
#   docker run --read-only --tmpfs /tmp \
#     -v moat-state:/var/lib/moat -v moat-logs:/var/log/moat \
#     -v "$PWD/moat.toml:/etc/moat/moat.toml:ro" -p 80:8080 moat
# (docs/install.md). The image writes only to /var/lib/moat and /var/log/moat.
FROM debian:12-slim
COPY build-deb/moat_*.deb /tmp/
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/moat_*.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/moat_*.deb
USER moat
WORKDIR /var/lib/moat
VOLUME ["/var/lib/moat", "/var/log/moat"]
EXPOSE 8080 8443
ENTRYPOINT ["/usr/bin/moat"]
CMD ["serve", "--config", "/etc/moat/moat.toml"]
