#!/bin/sh
# Makes the secret files deploy/compose.yaml mounts, each only if it is missing (never replaced):
#   optin_secret_key   signs every link optin sends (32 random bytes, hex)
#   postgres_password  the database password (32 random bytes, hex: safe inside a URL)
#   database_url       postgresql://optin:<that password>@db/optin
#   smtp_password      your relay's password: empty until you write it (printf %s '…' > …)
# Usage: sh deploy/compose-secrets.sh [DIRECTORY]   (default: deploy/secrets)
set -eu

dir=${1:-$(dirname "$0")/secrets}
# The directory keeps other users of this machine out; the files inside are readable because the
# containers (optin's user 10001, postgres' 999) read the bind-mounted files directly.
mkdir -p "$dir"
chmod 700 "$dir"
umask 022

random_hex() {
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}

write() {  # write NAME VALUE: atomically, only if NAME does not exist yet
    if [ -e "$dir/$1" ]; then
        echo "kept    $dir/$1"
        return
    fi
    printf '%s' "$2" > "$dir/$1.tmp"
    mv "$dir/$1.tmp" "$dir/$1"
    echo "created $dir/$1"
}

write optin_secret_key "$(random_hex)"
write postgres_password "$(random_hex)"
write database_url "postgresql://optin:$(cat "$dir/postgres_password")@db/optin"
write smtp_password ""
