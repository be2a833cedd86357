#!/bin/sh
# make run: a development instance under ./run (config, users, certificate,
# data), created once, then served in the foreground on 127.0.0.1.
set -eu

cd "$(dirname "$0")/.."
conf=run/rmail.json

# The dev instance uses unprivileged ports: it runs as whoever starts it.
if [ ! -f "$conf" ]; then
	printf 'demo\n' | ./rmail init -c "$conf" --data-dir ./run \
	    --domain example.test --hostname localhost --listen 127.0.0.1 \
	    --port-base 10000 --admin demo@example.test --password-stdin \
	    --non-interactive >/dev/null
	echo "dev-run: created ./run (config $conf)"
fi

cat <<MSG
dev-run: demo user demo@example.test, password "demo"
  IMAPS        127.0.0.1:10993   (IMAP with STARTTLS: 10143)
  submission   127.0.0.1:10587   (STARTTLS; implicit TLS: 10465)
  SMTP (MX)    127.0.0.1:10025
  the certificate is self-signed for localhost: trust run/tls/fullchain.pem
  e.g. openssl s_client -connect 127.0.0.1:10993 -CAfile run/tls/fullchain.pem
dev-run: starting ./rmail serve -c $conf (Ctrl-C stops)
MSG
exec ./rmail serve -c "$conf"
