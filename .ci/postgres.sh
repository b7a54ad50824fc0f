# PostgreSQL for the tests: sourced by .ci/run.
#
# pg_up installs Debian's postgresql package if no server is installed,
# creates and starts a cluster if none is running, makes the role and
# database the tests use, and exports TKA_TEST_POSTGRES_URL. pg_down stops
# the cluster only if pg_up started it.

PG_STARTED=""

pg_as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        sudo -u postgres "$@"
    fi
}

pg_up() {
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
        echo "postgres: installing Debian's postgresql package"
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        else
            sudo apt-get update -qq
            sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        fi
    fi
    local ver
    ver="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
    if ! pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main"' | grep -q .; then
        pg_createcluster "$ver" main >/dev/null
    fi
    if ! pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
        pg_ctlcluster "$ver" main start
        PG_STARTED="$ver"
    fi
    local port
    port="$(pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" {print $3}')"
    for _ in $(seq 1 30); do
        pg_as_postgres psql -p "$port" -qtAc 'select 1' >/dev/null 2>&1 && break
        sleep 1
    done
    pg_as_postgres psql -p "$port" -qtAc \
        "do \$\$ begin if not exists (select from pg_roles where rolname = 'tka') then create role tka login password 'tka' createdb; end if; end \$\$;" >/dev/null
    if ! pg_as_postgres psql -p "$port" -qtAc "select 1 from pg_database where datname = 'tka_test'" | grep -q 1; then
        pg_as_postgres createdb -p "$port" -O tka tka_test
    fi
    export TKA_TEST_POSTGRES_URL="postgres://tka:tka@127.0.0.1:$port/tka_test"
    echo "postgres: $ver on port $port ($TKA_TEST_POSTGRES_URL)"
}

pg_down() {
    if [ -n "$PG_STARTED" ]; then
        pg_ctlcluster "$PG_STARTED" main stop || true
    fi
}
