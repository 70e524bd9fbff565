# shellcheck shell=bash
# Lab host cg-files (198.18.13.2, fd7c:a7:13::2): remote access, file, code and chat daemons,
# each a real Debian daemon started by hand with its files under ${LAB_DIR}/cg-files/:
#
#   dropbear   ssh         tcp 21    (on ftp's port: named by what it speaks)
#   tinysshd   ssh         tcp 22    from inetd
#   telnetd    telnet      tcp 23    inetutils, from inetd
#   rsync      rsync       tcp 25    (on smtp's port) daemon mode, one read-only module
#   tftpd-hpa  tftp        udp 69
#   fingerd    finger      tcp 79    from inetd
#   rpcbind    rpcbind     tcp+udp 111, with rpc.statd registered (status, tcp 32765)
#   oidentd    ident       tcp 113
#   leafnode   nntp        tcp 119   from inetd
#   nmbd       netbios-ns  udp 137   Samba, workgroup CARTOGRAPH, name CG-FILES
#   smbd       smb         tcp 139, 445
#   xdm        xdmcp       udp 177   willing to manage anyone; no display of its own
#   cvs        cvspserver  tcp 2401  pserver from inetd
#   xrdp       rdp         tcp 3389  (no session manager: only the RDP handshake matters)
#   svnserve   svn         tcp 3690
#   dovecot    sieve       tcp 4190  ManageSieve (Pigeonhole), nothing else
#   kamailio   sip         udp+tcp 5060
#   prosody    xmpp        tcp 5222 (client), 5269 (server)
#   Xvnc       vnc         tcp 5901  TigerVNC, display :1, security None
#   Xvfb       x11         tcp 6000  display :0, -listen tcp, no access control
#   ngircd     irc         tcp 6667
#   git daemon git         tcp 9418
#   murmurd    mumble      udp+tcp 64738  Mumble server (TLS on TCP)
#
# Sourced by Scripts/lab.sh (up, or `add Scripts/lab.d/74-files.sh`), with its functions and
# `set -euo pipefail`. Packages: Scripts/deps.d/files.txt. Names here are prefixed files_.
#
# Every daemon runs in a mount namespace of its own (files_run) where /tmp and /run are empty
# tmpfs and this host's directory is at /tmp/lab: X servers' sockets and locks, xrdp's and
# rpcbind's compiled-in /run paths and everyone's pid files stay out of the real /tmp and /run.

FILES_NS=cg-files
FILES_INDEX=13
FILES_V4=$(v4_host "${FILES_INDEX}")
FILES_V6=$(v6_host "${FILES_INDEX}")
FILES_DIR="${LAB_DIR}/${FILES_NS}"
FILES_IN=/tmp/lab   # FILES_DIR as the daemons see it

files_check_tools() {
    local tool missing=()
    for tool in unshare runuser socat /usr/sbin/dropbear /usr/bin/dropbearkey /usr/sbin/tinysshd \
        /usr/sbin/tinysshd-makekey /usr/sbin/inetd /usr/sbin/telnetd /usr/bin/rsync /usr/sbin/in.tftpd \
        /usr/sbin/rpcbind /usr/sbin/rpc.statd /usr/sbin/smbd /usr/sbin/nmbd /usr/bin/cvs /usr/sbin/xrdp \
        /usr/bin/svnserve /usr/bin/svnadmin /usr/bin/prosody /usr/sbin/kamailio /usr/bin/Xvnc \
        /usr/bin/Xvfb /usr/sbin/ngircd /usr/bin/git /usr/sbin/leafnode /usr/sbin/dovecot \
        /usr/lib/dovecot/managesieve-login /usr/sbin/in.fingerd /usr/bin/finger /usr/sbin/oidentd /usr/bin/xdm /usr/sbin/murmurd; do
        command -v "${tool}" >/dev/null 2>&1 || missing+=("${tool}")
    done
    if [[ ${#missing[@]} -ne 0 ]]; then
        die "cg-files: missing ${missing[*]}; install the lab packages with: bash Scripts/deps.sh"
    fi
}

# files_run LOGFILE CMD...: CMD in cg-files, host name "cg-files", with private /tmp and /run
# (see above). The daemon's output goes to LOGFILE, opened before /run is hidden.
# shellcheck disable=SC2016  # $0 and $@ belong to the inner sh
files_run() {
    local logfile=$1; shift
    start_in_ns "${FILES_NS}" "${logfile}" unshare --uts --mount --propagation private sh -c '
        hostname cg-files && mount --bind "$0/resolv.conf" /etc/resolv.conf &&
        mount -t tmpfs -o mode=1777 tmpfs /tmp && mkdir /tmp/lab && mount --bind "$0" /tmp/lab &&
        mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/xrdp /run/rpcbind /run/samba &&
        exec "$@"' "${FILES_DIR}" "$@"
}

# files_background LOGFILE CMD...: files_run for a daemon that stays in the foreground.
files_background() {
    files_run "$@" </dev/null >/dev/null 2>&1 &
}

# files_register NAME PORT LOGFILE [udp]: one endpoint on both of the host's addresses.
files_register() {
    register "$1" "${FILES_NS}" "${FILES_V4}" "$2" "$3" "${4:-tcp}"
    register "$1" "${FILES_NS}" "${FILES_V6}" "$2" "$3" "${4:-tcp}"
}

# --- SSH: dropbear on 21 (ftp's port), tinysshd on 22 from inetd -------------------------
files_start_dropbear() {
    local dir="${FILES_DIR}/dropbear"
    mkdir -p "${dir}"
    dropbearkey -t ed25519 -f "${dir}/host_key" >/dev/null 2>&1
    files_register ssh:21 21 "${dir}/dropbear.log"
    # -F foreground, -E log to stderr, -s -g no passwords: nobody can log in.
    files_background "${dir}/dropbear.log" /usr/sbin/dropbear -F -E -s -g -r "${FILES_IN}/dropbear/host_key" \
        -P "${FILES_IN}/dropbear/dropbear.pid" -p "${FILES_V4}:21" -p "[${FILES_V6}]:21"
}

# --- inetd: tinysshd (22), telnetd (23), CVS pserver (2401) --------------------------------
files_start_inetd() {
    local dir="${FILES_DIR}/inetd"
    mkdir -p "${dir}" "${FILES_DIR}/tinyssh" "${FILES_DIR}/cvs"
    tinysshd-makekey "${FILES_DIR}/tinyssh/keys" >/dev/null 2>&1
    # A CVS repository with nothing in it; pserver serves it and nothing else.
    cvs -d "${FILES_DIR}/cvs/root" init
    local addr proto
    : >"${dir}/inetd.conf"
    for addr in "${FILES_V4}" "[${FILES_V6}]"; do
        proto=tcp
        [[ ${addr} == \[* ]] && proto=tcp6
        cat >>"${dir}/inetd.conf" <<EOF
${addr}:22 stream ${proto} nowait root /usr/sbin/tinysshd tinysshd ${FILES_IN}/tinyssh/keys
${addr}:23 stream ${proto} nowait root /usr/sbin/telnetd telnetd
${addr}:2401 stream ${proto} nowait root /usr/bin/cvs cvs -f --allow-root=${FILES_IN}/cvs/root pserver
${addr}:119 stream ${proto} nowait news /usr/sbin/leafnode leafnode
${addr}:79 stream ${proto} nowait nobody /usr/sbin/in.fingerd in.fingerd
EOF
    done
    files_register ssh:22 22 "${dir}/inetd.log"
    files_register telnet:23 23 "${dir}/inetd.log"
    files_register cvspserver:2401 2401 "${dir}/inetd.log"
    files_register nntp:119 119 "${dir}/inetd.log"
    files_register finger:79 79 "${dir}/inetd.log"
    # leafnode reads only /etc/news/leafnode/config, and wants a name it takes for a unique FQDN
    # (it refuses .test), and serves clients outside its own networks only with allowSTRANGERS
    # (the lab is closed): its own config is mounted over that file for inetd and its children.
    printf 'expire = 20\nserver = news.invalid\nhostname = cg-files.cartograph.lab\nallowSTRANGERS = 42\n' >"${dir}/leafnode.config"
    # -i: stay in the foreground.
    # shellcheck disable=SC2016  # the inner sh expands these
    files_background "${dir}/inetd.log" sh -c 'mount --bind "$0/leafnode.config" /etc/news/leafnode/config &&
        exec /usr/sbin/inetd -i "$0/inetd.conf"' "${FILES_IN}/inetd"
}

# --- rsync daemon on 25 (smtp's port) ------------------------------------------------------
files_start_rsync() {
    local dir="${FILES_DIR}/rsync"
    mkdir -p "${dir}/pub"
    printf 'Cartograph lab rsync module on %s.\n' "${FILES_NS}" >"${dir}/pub/README"
    cat >"${dir}/rsyncd.conf" <<EOF
# Generated by Scripts/lab.d/74-files.sh.
use chroot = no
pid file = ${FILES_IN}/rsync/rsyncd.pid
[pub]
    path = ${FILES_IN}/rsync/pub
    comment = Cartograph lab files
    read only = yes
EOF
    files_register rsync:25 25 "${dir}/rsyncd.log"
    files_background "${dir}/rsyncd.log" /usr/bin/rsync --daemon --no-detach --port=25 \
        --config="${FILES_IN}/rsync/rsyncd.conf" --log-file=/dev/stderr
}

# --- TFTP: tftpd-hpa -----------------------------------------------------------------------
files_start_tftpd() {
    local dir="${FILES_DIR}/tftp"
    mkdir -p "${dir}/root"
    printf 'Cartograph lab TFTP file.\n' >"${dir}/root/README"
    files_register tftp:69 69 "${dir}/tftpd.log" udp
    # One process an address (--address takes one); -L foreground, -s chroot into the root.
    files_background "${dir}/tftpd.log" /usr/sbin/in.tftpd -L -v -u tftp -s "${FILES_IN}/tftp/root" \
        --address "${FILES_V4}:69"
    files_background "${dir}/tftpd.log" /usr/sbin/in.tftpd -L -v -u tftp -s "${FILES_IN}/tftp/root" \
        --address "[${FILES_V6}]:69"
}

# --- rpcbind, with rpc.statd registered in it ----------------------------------------------
# Both in one mount namespace: statd registers through rpcbind's socket in (private) /run.
# NFS itself needs the kernel's nfsd, which a network namespace cannot have on its own: not here.
files_start_rpcbind() {
    local dir="${FILES_DIR}/rpcbind"
    mkdir -p "${dir}/statd/sm" "${dir}/statd/sm.bak"
    files_register rpcbind:111 111 "${dir}/rpcbind.log"
    files_register rpcbind:111 111 "${dir}/rpcbind.log" udp
    files_register status:32765 32765 "${dir}/rpcbind.log"
    # shellcheck disable=SC2016  # the inner sh expands these
    files_background "${dir}/rpcbind.log" sh -c '
        /usr/sbin/rpcbind -f -w & rpcbind=$!
        for _ in $(seq 50); do [ -S /run/rpcbind.sock ] && break; sleep 0.1; done
        /usr/sbin/rpc.statd -F -p 32765 -o 32766 -P "$0" & statd=$!
        wait ${rpcbind}' "${FILES_IN}/rpcbind/statd"
}

# --- Samba: smbd and nmbd ------------------------------------------------------------------
files_start_samba() {
    local dir="${FILES_DIR}/samba" sub
    for sub in lock state cache private pid ncalrpc binddns share; do mkdir -p "${dir}/${sub}"; done
    printf 'Cartograph lab SMB share.\n' >"${dir}/share/README"
    cat >"${dir}/smb.conf" <<EOF
# Generated by Scripts/lab.d/74-files.sh.
[global]
    workgroup = CARTOGRAPH
    netbios name = CG-FILES
    server string = Cartograph lab Samba
    server role = standalone server
    interfaces = eth0
    bind interfaces only = yes
    local master = yes
    preferred master = yes
    os level = 20
    lock directory = ${FILES_IN}/samba/lock
    state directory = ${FILES_IN}/samba/state
    cache directory = ${FILES_IN}/samba/cache
    private dir = ${FILES_IN}/samba/private
    pid directory = ${FILES_IN}/samba/pid
    ncalrpc dir = ${FILES_IN}/samba/ncalrpc
    binddns dir = ${FILES_IN}/samba/binddns
    log file = ${FILES_IN}/samba/log.%m
    logging = file
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    map to guest = bad user
[pub]
    path = ${FILES_IN}/samba/share
    read only = yes
    guest ok = yes
EOF
    files_register smb:445 445 "${dir}/smbd.log"
    files_register smb:139 139 "${dir}/smbd.log"
    register netbios-ns:137 "${FILES_NS}" "${FILES_V4}" 137 "${dir}/nmbd.log" udp
    files_background "${dir}/smbd.log" /usr/sbin/smbd --foreground --no-process-group \
        --configfile="${FILES_IN}/samba/smb.conf" --debug-stdout
    files_background "${dir}/nmbd.log" /usr/sbin/nmbd --foreground --no-process-group \
        --configfile="${FILES_IN}/samba/smb.conf" --debug-stdout
}

# --- xrdp: the RDP listener alone ----------------------------------------------------------
files_start_xrdp() {
    local dir="${FILES_DIR}/xrdp"
    mkdir -p "${dir}"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=cg-files.lab.test" \
        -keyout "${dir}/key.pem" -out "${dir}/cert.pem" 2>/dev/null
    # Debian's xrdp.ini with the lab's certificate, and logs to the console (our log file).
    sed -e "s|^certificate=.*|certificate=${FILES_IN}/xrdp/cert.pem|" \
        -e "s|^key_file=.*|key_file=${FILES_IN}/xrdp/key.pem|" \
        -e "s|^port=.*|port=tcp6://:3389|" \
        -e "s|^LogFile=.*|LogFile=/dev/null|" -e "s|^EnableConsole=.*|EnableConsole=true|" \
        -e "s|^EnableSyslog=.*|EnableSyslog=false|" /etc/xrdp/xrdp.ini >"${dir}/xrdp.ini"
    files_register rdp:3389 3389 "${dir}/xrdp.log"
    files_background "${dir}/xrdp.log" /usr/sbin/xrdp --nodaemon --config "${FILES_IN}/xrdp/xrdp.ini"
}

# --- Subversion: svnserve ------------------------------------------------------------------
files_start_svnserve() {
    local dir="${FILES_DIR}/svn" addr
    mkdir -p "${dir}"
    svnadmin create "${dir}/repo"
    for addr in "${FILES_V4}" "${FILES_V6}"; do
        register svn:3690 "${FILES_NS}" "${addr}" 3690 "${dir}/svnserve.log"
        files_background "${dir}/svnserve.log" /usr/bin/svnserve --daemon --foreground \
            --root "${FILES_IN}/svn" --listen-host "${addr}" --listen-port 3690
    done
}

# --- XMPP: prosody -------------------------------------------------------------------------
files_start_prosody() {
    local dir="${FILES_DIR}/prosody"
    mkdir -p "${dir}/data"
    chown prosody:prosody "${dir}/data"
    cat >"${dir}/prosody.cfg.lua" <<EOF
-- Generated by Scripts/lab.d/74-files.sh.
pidfile = "${FILES_IN}/prosody/prosody.pid"
data_path = "${FILES_IN}/prosody/data"
log = { info = "*stderr" }
daemonize = false
interfaces = { "${FILES_V4}", "${FILES_V6}" }
c2s_ports = { 5222 }
s2s_ports = { 5269 }
modules_enabled = { "disco", "roster", "saslauth", "tls", "dialback", "ping", "version", "uptime", "time" }
modules_disabled = { "offline", "posix" }
authentication = "internal_hashed"
allow_registration = false
c2s_require_encryption = false
s2s_require_encryption = false
s2s_secure_auth = false
VirtualHost "cg-files.lab.test"
EOF
    files_register xmpp-client:5222 5222 "${dir}/prosody.log"
    files_register xmpp-server:5269 5269 "${dir}/prosody.log"
    files_background "${dir}/prosody.log" runuser -u prosody -- /usr/bin/prosody \
        --config "${FILES_IN}/prosody/prosody.cfg.lua"
}

# --- SIP: kamailio, answering OPTIONS and refusing everything else -------------------------
files_start_kamailio() {
    local dir="${FILES_DIR}/kamailio"
    mkdir -p "${dir}"
    cat >"${dir}/kamailio.cfg" <<EOF
#!KAMAILIO
# Generated by Scripts/lab.d/74-files.sh: no registrar, no routing, only replies.
listen=udp:${FILES_V4}:5060
listen=tcp:${FILES_V4}:5060
listen=udp:[${FILES_V6}]:5060
listen=tcp:[${FILES_V6}]:5060
children=1
dns=no
rev_dns=no
tcp_children=1
dns=no
rev_dns=no
log_stderror=yes
debug=1
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "sl.so"
request_route {
    if (method == "OPTIONS") { sl_send_reply("200", "OK"); exit; }
    sl_send_reply("403", "Cartograph lab: nothing here");
}
EOF
    files_register sip:5060 5060 "${dir}/kamailio.log"
    files_register sip:5060 5060 "${dir}/kamailio.log" udp
    files_background "${dir}/kamailio.log" /usr/sbin/kamailio -DD -E -f "${FILES_IN}/kamailio/kamailio.cfg" \
        -P "${FILES_IN}/kamailio/kamailio.pid" -u nobody -g nogroup
}

# --- X servers: Xvfb with X11 over TCP, TigerVNC's Xvnc ------------------------------------
files_start_x() {
    local dir="${FILES_DIR}/x"
    mkdir -p "${dir}"
    files_register x11:6000 6000 "${dir}/xvfb.log"
    # -ac: no access control, so the connection setup is answered with the server's details.
    files_background "${dir}/xvfb.log" /usr/bin/Xvfb :0 -listen tcp -ac -screen 0 1024x768x24 -nolisten unix
    files_register vnc:5901 5901 "${dir}/xvnc.log"
    # A high BlacklistThreshold: scans that hang up without logging in would otherwise count as
    # security failures, and after five Xvnc refuses everyone for a while.
    files_background "${dir}/xvnc.log" /usr/bin/Xvnc :1 -SecurityTypes None -rfbport 5901 \
        -localhost=0 -desktop cg-files -geometry 800x600 -depth 24 -BlacklistThreshold 1000000
}

# --- IRC: ngircd ---------------------------------------------------------------------------
files_start_ngircd() {
    local dir="${FILES_DIR}/ngircd"
    mkdir -p "${dir}"
    printf 'Cartograph lab IRC server.\n' >"${dir}/motd"
    cat >"${dir}/ngircd.conf" <<EOF
# Generated by Scripts/lab.d/74-files.sh.
[Global]
    Name = irc.cg-files.lab.test
    Info = Cartograph lab IRC server
    Listen = ${FILES_V4},${FILES_V6}
    Ports = 6667
    MotdFile = ${FILES_IN}/ngircd/motd
    ServerUID = irc
    ServerGID = irc
    PidFile = ${FILES_IN}/ngircd/ngircd.pid
[Limits]
    MaxConnectionsIP = 0
[Options]
    DNS = no
    Ident = no
    PAM = no
EOF
    files_register irc:6667 6667 "${dir}/ngircd.log"
    files_background "${dir}/ngircd.log" /usr/sbin/ngircd --nodaemon --config "${FILES_IN}/ngircd/ngircd.conf"
}

# --- ManageSieve: Dovecot Pigeonhole ------------------------------------------------------
# Nobody can log in (the password file is empty); only the greeting's capabilities matter.
files_start_managesieve() {
    local dir="${FILES_DIR}/dovecot"
    mkdir -p "${dir}/run" "${dir}/state"
    : >"${dir}/passwd"
    cat >"${dir}/dovecot.conf" <<EOF
# Generated by Scripts/lab.d/74-files.sh.
protocols = sieve
listen = ${FILES_V4}, ${FILES_V6}
base_dir = ${FILES_IN}/dovecot/run
state_dir = ${FILES_IN}/dovecot/state
instance_name = cg-files-dovecot
log_path = /dev/stderr
ssl = no
disable_plaintext_auth = no
mail_location = maildir:${FILES_IN}/dovecot/mail/%u
passdb {
  driver = passwd-file
  args = ${FILES_IN}/dovecot/passwd
}
userdb {
  driver = passwd-file
  args = ${FILES_IN}/dovecot/passwd
}
service managesieve-login {
  inet_listener sieve {
    port = 4190
  }
}
EOF
    files_register sieve:4190 4190 "${dir}/dovecot.log"
    # -F: stay in the foreground.
    files_background "${dir}/dovecot.log" /usr/sbin/dovecot -F -c "${FILES_IN}/dovecot/dovecot.conf"
}

# --- ident: oidentd -----------------------------------------------------------------------
files_start_oidentd() {
    local dir="${FILES_DIR}/oidentd"
    mkdir -p "${dir}"
    files_register ident:113 113 "${dir}/oidentd.log"
    # -i foreground, -S log to stderr; -C /dev/null: no user may fake a name.
    files_background "${dir}/oidentd.log" /usr/sbin/oidentd -i -S -C /dev/null -a "${FILES_V4}" -a "${FILES_V6}" \
        -u nobody -g nogroup
}

# --- XDMCP: xdm, willing to manage anyone, with no local display of its own -----------------
files_start_xdm() {
    local dir="${FILES_DIR}/xdm"
    mkdir -p "${dir}/auth"
    : >"${dir}/Xservers"
    printf '*\n' >"${dir}/Xaccess"
    cat >"${dir}/xdm-config" <<EOF
! Generated by Scripts/lab.d/74-files.sh.
DisplayManager.authDir: ${FILES_IN}/xdm/auth
DisplayManager.errorLogFile: /dev/stderr
DisplayManager.pidFile: ${FILES_IN}/xdm/xdm.pid
DisplayManager.servers: ${FILES_IN}/xdm/Xservers
DisplayManager.accessFile: ${FILES_IN}/xdm/Xaccess
DisplayManager.requestPort: 177
EOF
    register xdmcp:177 "${FILES_NS}" "${FILES_V4}" 177 "${dir}/xdm.log" udp
    files_background "${dir}/xdm.log" /usr/bin/xdm -nodaemon -config "${FILES_IN}/xdm/xdm-config"
}

# --- Mumble: murmurd -----------------------------------------------------------------------
files_start_murmur() {
    local dir="${FILES_DIR}/murmur"
    mkdir -p "${dir}"
    chown mumble-server:mumble-server "${dir}"
    cat >"${dir}/murmur.ini" <<EOF
; Generated by Scripts/lab.d/74-files.sh.
database=${FILES_IN}/murmur/murmur.sqlite
logfile=
host=${FILES_V4} ${FILES_V6}
port=64738
welcometext="Cartograph lab Mumble server"
users=20
bandwidth=72000
allowping=true
bonjour=false
; Scans connect often without logging in: no automatic bans.
autobanAttempts=0
uname=mumble-server
EOF
    files_register mumble:64738 64738 "${dir}/murmur.log"
    files_register mumble:64738 64738 "${dir}/murmur.log" udp
    # -fg: foreground, logging to the console (our log file).
    files_background "${dir}/murmur.log" /usr/sbin/murmurd -fg -ini "${FILES_IN}/murmur/murmur.ini"
}

# --- git daemon ----------------------------------------------------------------------------
files_start_git() {
    local dir="${FILES_DIR}/git"
    mkdir -p "${dir}"
    git init -q --bare "${dir}/lab.git"
    files_register git:9418 9418 "${dir}/git-daemon.log"
    files_background "${dir}/git-daemon.log" /usr/bin/git daemon --reuseaddr --base-path="${FILES_IN}/git" \
        --export-all --listen="${FILES_V4}" --listen="${FILES_V6}" --port=9418 --user=nobody --group=nogroup \
        "${FILES_IN}/git"
}

files_check_tools
add_host "${FILES_NS}" "${FILES_INDEX}"
mkdir -p "${FILES_DIR}"
# No name lookups leave the lab: a resolver nobody answers on (kamailio, samba and prosody look
# up their own addresses).
printf '# Scripts/lab.d/74-files.sh: no resolver for cg-files daemons\nnameserver 127.0.0.1\n' \
    >"${FILES_DIR}/resolv.conf"
files_start_dropbear
files_start_inetd
files_start_rsync
files_start_tftpd
files_start_rpcbind
files_start_samba
files_start_xrdp
files_start_svnserve
files_start_prosody
files_start_kamailio
files_start_x
files_start_ngircd
files_start_git
files_start_managesieve
files_start_oidentd
files_start_xdm
files_start_murmur
