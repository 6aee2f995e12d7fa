# Shared by scripts/run and scripts/test: installing what is missing on
# Debian, building, and starting PostgreSQL and Redis on loopback from
# Debian's packages.
# shellcheck shell=bash

ROSTER_PACKAGES=(
  gcc pkg-config meson ninja-build git ca-certificates curl jq python3 python3-yaml
  libulfius-dev libmicrohttpd-dev libjansson-dev libhiredis-dev libpq-dev libcsv-dev libuv1-dev
  postgresql redis-server
)
ROSTER_TEST_PACKAGES=(
  python3 python3-pytest python3-requests python3-psycopg2 python3-redis python3-yaml python3-jsonschema
  chromium valgrind
  docker.io docker-compose debootstrap
)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the Debian packages that are not installed yet.
install_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}); run as root or install them"
    sudo=(sudo)
  fi
  say "installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Configures (once) and builds into $1 with the remaining meson options.
build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >&2
  fi
  ninja -C "$dir" >&2
}

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] || d=$(pg_config --bindir 2>/dev/null)
  [ -x "$d/initdb" ] || die "PostgreSQL server binaries not found"
  printf '%s\n' "$d"
}

# Runs a PostgreSQL tool; as the postgres user when we are root, since
# PostgreSQL refuses to run as root.
pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Starts (initialising if needed) a cluster in $1 on 127.0.0.1:$2 with a
# superuser "roster" and a database "roster". Reuses one already running.
start_postgres() {
  local dir=$1 port=$2 bin
  bin=$(pg_bindir)
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    say "initialising PostgreSQL in $dir"
    pg_as_owner "$bin/initdb" -D "$dir/data" -U roster --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  if ! pg_as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    say "starting PostgreSQL on 127.0.0.1:$port"
    pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null \
      || { tail -n 20 "$dir/server.log" >&2; die "PostgreSQL did not start (is port $port taken?)"; }
  fi
  "$bin/psql" -h 127.0.0.1 -p "$port" -U roster -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'roster'" \
    | grep -q 1 || "$bin/psql" -h 127.0.0.1 -p "$port" -U roster -d postgres -qc "CREATE DATABASE roster"
}

stop_postgres() {
  local dir=$1
  pg_as_owner "$(pg_bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# Starts Redis in $1 on 127.0.0.1:$2 with an append-only file, so that the
# queue survives a restart. Reuses one that already runs from $1 (left by
# a run that was killed); refuses a port that another Redis holds.
start_redis() {
  local dir=$1 port=$2 theirs
  mkdir -p "$dir"
  if redis-cli -p "$port" ping >/dev/null 2>&1; then
    theirs=$(redis-cli -p "$port" config get dir 2>/dev/null | sed -n 2p)
    [ "$theirs" = "$(cd "$dir" && pwd -P)" ] && return 0
    die "port $port is taken by another Redis (data in ${theirs:-?}); stop it, or set ROSTER_RUN_REDIS_PORT"
  fi
  say "starting Redis on 127.0.0.1:$port"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --save '' \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "Redis did not start (is port $port taken?)"
}

# Stops the Redis on port $2 if it is the one with its data in $1.
stop_redis() {
  local dir=$1 port=$2 theirs
  theirs=$(redis-cli -p "$port" config get dir 2>/dev/null | sed -n 2p)
  [ -n "$theirs" ] && [ "$theirs" = "$(cd "$dir" 2>/dev/null && pwd -P)" ] || return 0
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}

# A directory the postgres user can reach: $1 if it can, else one under
# /var/tmp (a checkout under /root is not readable by other users).
reachable_dir() {
  local want=$1
  mkdir -p "$want"
  if [ "$(id -u)" -ne 0 ] || runuser -u postgres -- test -x "$want" 2>/dev/null; then
    printf '%s\n' "$want"
  else
    local alt
    alt=/var/tmp/roster-$(printf '%s' "$want" | md5sum | cut -c1-8)
    mkdir -p "$alt"
    say "$want is not reachable by the postgres user; its data goes to $alt"
    printf '%s\n' "$alt"
  fi
}

# True when something accepts TCP connections on host:port.
port_in_use() {
  local host=${1%:*} port=${1##*:}
  host=${host#[}; host=${host%]}
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}
