# Multi-stage build of both wardflux programs. Build: docker build -t wardflux .
# Run one with: docker run wardflux wardflux-exporter --config.file=/etc/wardflux/exporter.yml
FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p wardflux-exporter -p wardflux-ruler

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/wardflux --create-home wardflux
COPY --from=build /src/target/release/wardflux-exporter /src/target/release/wardflux-ruler /usr/local/bin/
COPY rules /etc/wardflux/rules
USER wardflux
WORKDIR /var/lib/wardflux
EXPOSE 9117 9095
CMD ["wardflux-exporter", "--config.file=/etc/wardflux/exporter.yml"]
