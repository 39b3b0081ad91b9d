# supervisor-rs in a container: supervisord runs as PID 1 (it reaps orphans and stops every
# program in priority order on `docker stop`; see docs/extensions.md, "Containers").
#
#   docker build -t supervisor-rs .
#   docker run --rm -v "$PWD/my-programs:/etc/supervisor/conf.d:ro" supervisor-rs
#
# Programs go in /etc/supervisor/conf.d/*.conf (the Debian layout, README "Debian-style
# layout"). Untested here: the build environment of this project cannot run docker.

# --- build stage: the whole toolchain, thrown away afterwards -----------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p supervisor-daemon -p supervisor-listeners \
 && mkdir -p /out \
 && for bin in supervisord supervisorctl echo_supervisord_conf \
               crashmail crashmailbatch fatalmailbatch crashsms memmon httpok webhook; do \
        cp "target/release/$bin" /out/ ; \
    done

# --- runtime stage: a slim Debian (glibc, /bin/sh for `command=sh -c ...`) + the binaries --
FROM debian:bookworm-slim
COPY --from=build /out/ /usr/local/bin/
COPY packaging/etc/supervisor/ /etc/supervisor/
RUN mkdir -p /var/log/supervisor
# docker stop sends SIGTERM: supervisord stops everything (stopwaitsecs, then SIGKILL) and
# exits 0; give it longer than the largest stopwaitsecs with `docker stop -t`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/supervisord", "-n", "-c", "/etc/supervisor/supervisord.conf"]
