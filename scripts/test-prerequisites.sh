#!/usr/bin/env bash
# What `npm test` needs besides node_modules (run first as its pretest):
# Debian packages for the real clients, servers and tools the tests use, a
# MariaDB reachable on 127.0.0.1:3306 as root with an empty password and its
# `test` database, and Mosquitto on 127.0.0.1:1883. As root with apt-get it
# installs and starts what is missing; otherwise it stops and prints the
# command to run. With everything present it only looks (well under a second).
# CREDGATE_TEST_NO_INSTALL=1 never installs or starts anything, as for a user
# who is not root; CREDGATE_TEST_MYSQL_URL (another server for the tests)
# leaves the local MariaDB alone.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

say() { echo "test prerequisites: $*" >&2; }

may_install=1
sudo=''
[ "$(id -u)" -eq 0 ] || { may_install=0; sudo='sudo '; }
[ "${CREDGATE_TEST_NO_INSTALL:-}" != 1 ] || may_install=0

missing=()
need_command() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_path() { [ -e "$1" ] || missing+=("$2"); }
need_command openssl openssl
need_command curl curl
need_command scepclient scep                                     # micromdm's scepclient: the SCEP e2e client
need_path /usr/lib/certmonger/scep-submit certmonger             # certmonger's SCEP helper: the second SCEP client
need_command go golang-go                                        # builds test/tools/scepload, the load client
need_path /usr/share/gocode/src/github.com/micromdm/scep golang-github-micromdm-scep-dev
need_path /usr/share/gocode/src/github.com/fullsailor/pkcs7 golang-github-fullsailor-pkcs7-dev
need_path /usr/sbin/mariadbd mariadb-server                      # the MySQL backend of every store test
need_command mariadb mariadb-client
need_path /usr/sbin/mosquitto mosquitto                          # the MQTT broker of the MobileIron tests
need_command file file                                           # libmagic: tells images apart independently of sharp (badges)
need_path /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf fonts-dejavu-core  # the sans-serif font rendered badges' text is drawn in

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing ${missing[*]} (Debian package names), and there is no apt-get here to install them."
    say "Install their equivalents, or run the tests on Debian 12 as root, where npm test installs them."
    exit 1
  fi
  if [ "$may_install" -eq 0 ]; then
    say "missing Debian packages ${missing[*]}. Install them with:"
    echo "${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mariadb_up() { mariadb-admin --protocol=tcp -h127.0.0.1 -P3306 -uroot ping >/dev/null 2>&1; }
if [ -z "${CREDGATE_TEST_MYSQL_URL:-}" ]; then
  if ! mariadb_up; then
    if [ "$may_install" -eq 0 ]; then
      say "MariaDB does not answer on 127.0.0.1:3306 as root without a password. Start it, and let root in over TCP, with:"
      echo "${sudo}bash $0" >&2
      say "(or point the tests at another server: CREDGATE_TEST_MYSQL_URL=mysql://user:password@host:3306/test)"
      exit 1
    fi
    say "starting MariaDB"
    install -d -o mysql -g mysql /run/mysqld
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
    for _ in $(seq 1 60); do
      mariadb-admin ping >/dev/null 2>&1 && break
      sleep 1
    done
    # A fresh Debian install lets root in over the socket only; the tests
    # connect over TCP as root with an empty password.
    if ! mariadb_up; then
      mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; FLUSH PRIVILEGES;"
    fi
    mariadb_up || { say "MariaDB started but does not answer on 127.0.0.1:3306 as root without a password"; exit 1; }
  fi
  mariadb --protocol=tcp -h127.0.0.1 -P3306 -uroot -e 'CREATE DATABASE IF NOT EXISTS test'
fi

mosquitto_up() { (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; }
if ! mosquitto_up; then
  if [ "$may_install" -eq 0 ]; then
    say "Mosquitto does not listen on 127.0.0.1:1883. Start it with:"
    echo "${sudo}mosquitto -d -c /etc/mosquitto/mosquitto.conf" >&2
    exit 1
  fi
  say "starting Mosquitto"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf
  for _ in $(seq 1 50); do
    mosquitto_up && break
    sleep 0.1
  done
  mosquitto_up || { say "Mosquitto started but does not listen on 127.0.0.1:1883"; exit 1; }
fi
