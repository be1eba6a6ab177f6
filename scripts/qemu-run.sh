#!/usr/bin/env bash
# qemu-run.sh — run a command inside a QEMU VM booted on a chosen kernel.
#
#   scripts/qemu-run.sh [--kernel SPEC] [--mem M] [--cpus N] [--timeout D]
#                       [--with PROG]... [--share DIR]... [--env NAME[=VALUE]]...
#                       [--modules LIST] [--sync D] [--] COMMAND [ARG]...
#
# As a go test wrapper (go test passes the test binary and its flags):
#
#   go test -exec "$PWD/scripts/qemu-run.sh --kernel debian-6.1" ./...
#
# Kernel SPEC:
#   host                  no VM: run COMMAND here
#   debian-6.1            Debian bookworm's current cloud kernel (the package
#                         linux-image-cloud-amd64 depends on), the default
#   linux-image-...       a Debian kernel package, fetched with apt-get download
#   PATH                  a bzImage/vmlinuz file
# Packages are unpacked into $BPFFUZZ_KERNEL_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/bpffuzz/kernels) and reused; debian-6.1 keeps
# the package it resolved to until BPFFUZZ_KERNEL_REFRESH=1.
#
# --modules (default veth,dummy,ifb,sch_ingress,cls_bpf,act_bpf) are loaded
# from the kernel package, with what they depend on, before COMMAND runs.
#
# The guest is an initramfs: busybox (Debian's busybox-static), proc, sysfs,
# devtmpfs, bpffs, tracefs and debugfs mounted, lo up, root. The Go module
# around the working directory (or the directory itself), COMMAND when it is
# a file, the programs named by --with (with their shared libraries), the
# --share directories and the directories go test names in -test.* flags are
# copied in at their host paths; the command runs in the same working
# directory. Files created or changed under those directories are copied back
# when the command ends, and every --sync interval (default 30s) while it runs,
# so a hung or crashed VM still returns what it wrote up to the last sync.
# Environment variables BPFFUZZ_*, GO* and CI pass through; --env adds others.
#
# KVM is used when a probe boot with it finishes within 20 s (the result is
# cached per host boot); otherwise TCG. BPFFUZZ_QEMU_ACCEL=kvm|tcg overrides.
#
# Exit status: COMMAND's own; 124 when it ran past --timeout (it is killed
# inside the VM and its files still come back; the VM itself is killed 60 s
# later if it does not stop); 125 when the kernel printed an oops, BUG, WARN,
# KASAN/UBSAN report or panic (the log excerpt goes to stderr); 126 when the
# VM could not be set up or booted.
set -euo pipefail

prog=qemu-run.sh
die() {
	echo "$prog: $*" >&2
	exit 126
}

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

# seconds D: accepts 90, 90s, 10m, 1h30m, 10m0s, 1.5s (rounded up).
seconds() {
	local d=$1 total=0 n u
	if [[ $d =~ ^[0-9]+$ ]]; then
		echo "$d"
		return
	fi
	[[ $d =~ ^([0-9.]+[hms])+$ ]] || die "bad duration $d (want e.g. 90s, 10m, 1h30m)"
	while [[ $d =~ ^([0-9]+)(\.[0-9]+)?([hms])(.*)$ ]]; do
		n=${BASH_REMATCH[1]}
		u=${BASH_REMATCH[3]}
		[ -n "${BASH_REMATCH[2]}" ] && n=$((n + 1))
		case $u in
		h) total=$((total + n * 3600)) ;;
		m) total=$((total + n * 60)) ;;
		s) total=$((total + n)) ;;
		esac
		d=${BASH_REMATCH[4]}
	done
	echo "$total"
}

kernel=${BPFFUZZ_KERNEL:-debian-6.1}
mem=2048M
cpus=$(nproc 2>/dev/null || echo 2)
timeout=
sync=30
withs=()
shares=()
envs=()
modules=${BPFFUZZ_QEMU_MODULES:-veth,dummy,ifb,sch_ingress,cls_bpf,act_bpf}
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=${2:?--kernel needs a SPEC}; shift 2 ;;
	--kernel=*) kernel=${1#*=}; shift ;;
	--mem) mem=${2:?--mem needs a size}; shift 2 ;;
	--mem=*) mem=${1#*=}; shift ;;
	--cpus) cpus=${2:?--cpus needs a number}; shift 2 ;;
	--cpus=*) cpus=${1#*=}; shift ;;
	--timeout) timeout=$(seconds "${2:?--timeout needs a duration}"); shift 2 ;;
	--timeout=*) timeout=$(seconds "${1#*=}"); shift ;;
	--sync) sync=$(seconds "${2:?--sync needs a duration}"); shift 2 ;;
	--sync=*) sync=$(seconds "${1#*=}"); shift ;;
	--with) withs+=("${2:?--with needs a program}"); shift 2 ;;
	--with=*) withs+=("${1#*=}"); shift ;;
	--share) shares+=("${2:?--share needs a directory}"); shift 2 ;;
	--share=*) shares+=("${1#*=}"); shift ;;
	--modules) modules=${2?--modules needs a list}; shift 2 ;;
	--modules=*) modules=${1#*=}; shift ;;
	--env) envs+=("${2:?--env needs NAME or NAME=VALUE}"); shift 2 ;;
	--env=*) envs+=("${1#*=}"); shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) echo "$prog: unknown option $1" >&2; usage >&2; exit 2 ;;
	*) break ;;
	esac
done
if [ $# -eq 0 ]; then
	echo "$prog: no COMMAND given" >&2
	usage >&2
	exit 2
fi
[[ $cpus =~ ^[0-9]+$ ]] || die "--cpus takes a number, not $cpus"
[[ $mem =~ ^[0-9]+[MG]?$ ]] || die "--mem takes a size like 2048M or 2G, not $mem"

# A go test binary's own -test.timeout, plus a minute, unless --timeout says.
if [ -z "$timeout" ]; then
	timeout=1800
	for a in "$@"; do
		case $a in -test.timeout=*)
			t=$(seconds "${a#*=}")
			[ "$t" -gt 0 ] && timeout=$((t + 60))
			;;
		esac
	done
fi

if [ "$kernel" = host ]; then
	exec "$@"
fi

# ---- tools
command -v qemu-system-x86_64 >/dev/null ||
	die "qemu-system-x86_64 is not installed; install it: apt-get install qemu-system-x86"
busybox=${BPFFUZZ_BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
	die "a static busybox is needed at $busybox; install it: apt-get install busybox-static"
fi
case $("$busybox" cpio --help 2>&1 || true) in *-o*) ;; *)
	die "$busybox cannot write cpio archives; install Debian's: apt-get install busybox-static" ;;
esac

# ---- kernel
cache=${BPFFUZZ_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpffuzz/kernels}

# fetch_pkg NAME: unpack a Debian kernel package into $cache/NAME, once.
fetch_pkg() {
	local pkg=$1 dir=$cache/$1 tmp
	if [ -f "$dir/.complete" ]; then
		return
	fi
	command -v apt-get >/dev/null || die "apt-get is needed to fetch $pkg; pass a kernel path with --kernel PATH"
	mkdir -p "$cache"
	# go test -exec runs several test binaries at once: one fetches, the
	# others wait for it and take what it unpacked.
	local lock
	exec {lock}>"$cache/.fetch.lock"
	flock "$lock"
	if [ -f "$dir/.complete" ]; then
		exec {lock}>&-
		return
	fi
	tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
	echo "$prog: fetching $pkg into $dir" >&2
	if ! (cd "$tmp" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
		! ls "$tmp"/*.deb >/dev/null 2>&1; then
		rm -rf "$tmp"
		die "cannot download $pkg: run apt-get update, and check it exists: apt-cache search linux-image | grep cloud"
	fi
	dpkg-deb -x "$tmp"/*.deb "$tmp/x" || die "cannot unpack $pkg"
	rm -rf "$dir"
	mkdir -p "$dir"
	mv "$tmp/x/boot" "$dir/boot"
	[ -d "$tmp/x/lib/modules" ] && mv "$tmp/x/lib" "$dir/lib"
	[ -d "$tmp/x/usr/lib/modules" ] && mkdir -p "$dir/lib" && mv "$tmp/x/usr/lib/modules" "$dir/lib/modules"
	rm -rf "$tmp"
	ls "$dir"/boot/vmlinuz-* >/dev/null 2>&1 || die "$pkg has no /boot/vmlinuz-*: is it a kernel image package?"
	touch "$dir/.complete"
	exec {lock}>&-
}

case $kernel in
debian-6.1)
	pkg=
	if [ "${BPFFUZZ_KERNEL_REFRESH:-0}" != 1 ] && [ -f "$cache/debian-6.1" ]; then
		pkg=$(cat "$cache/debian-6.1")
		[ -f "$cache/$pkg/.complete" ] || pkg=
	fi
	if [ -z "$pkg" ]; then
		command -v apt-cache >/dev/null || die "debian-6.1 needs apt-get; pass --kernel PATH to a bzImage instead"
		pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9.-]*-cloud-amd64\)$/\1/p' | head -1)
		[ -n "$pkg" ] || die "cannot resolve linux-image-cloud-amd64: run apt-get update (bookworm sources are needed for debian-6.1)"
		case $pkg in linux-image-6.1.*) ;; *)
			die "linux-image-cloud-amd64 here is $pkg, not 6.1: debian-6.1 needs Debian bookworm's sources; pass a package name with --kernel"
			;;
		esac
		fetch_pkg "$pkg"
		echo "$pkg" >"$cache/debian-6.1"
	fi
	kdir=$cache/$pkg
	;;
linux-image-*)
	fetch_pkg "$kernel"
	kdir=$cache/$kernel
	;;
*)
	[ -f "$kernel" ] || die "--kernel $kernel: not host, debian-6.1, a linux-image-* package name or a kernel file"
	kdir=
	vmlinuz=$(realpath "$kernel")
	;;
esac
if [ -n "$kdir" ]; then
	vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
fi

# ---- guest root
work=$(mktemp -d "${TMPDIR:-/tmp}/qemu-run.XXXXXX")
qemu_pid=
tail_pid=
cleanup() {
	[ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null
	[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
	[ -n "${BPFFUZZ_QEMU_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
root=$work/root
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,root,bpffuzz}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
# The host's users and groups (tools such as tcpdump drop to their own user).
for f in passwd group; do
	if [ -r /etc/$f ]; then
		cp /etc/$f "$root/etc/$f"
	fi
done
grep -q '^root:' "$root/etc/passwd" 2>/dev/null || echo 'root:x:0:0:root:/root:/bin/sh' >>"$root/etc/passwd"
grep -q '^nobody:' "$root/etc/passwd" || echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >>"$root/etc/passwd"

# copy_in PATH: copy a host file or directory into the guest at the same path.
copy_in() {
	local p=$1
	[ -e "$p" ] || return 0
	mkdir -p "$root$(dirname "$p")"
	if [ -d "$p" ]; then
		tar -C "$(dirname "$p")" --exclude=.git -cf - "$(basename "$p")" | tar -C "$root$(dirname "$p")" -xf -
	else
		cp -a "$p" "$root$p"
	fi
}

# copy_exe PATH: a program and the shared libraries it needs.
copy_exe() {
	local exe=$1 lib
	copy_in "$exe"
	while read -r lib; do
		[ -n "$lib" ] && [ -e "$lib" ] || continue
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done < <(ldd "$exe" 2>/dev/null | grep -o '/[^ ]*' | sort -u)
}

backs=()
cwd=$(pwd -P)
top=$cwd
while [ "$top" != / ] && [ ! -f "$top/go.mod" ]; do
	top=$(dirname "$top")
done
[ "$top" = / ] && top=$cwd
copy_in "$top"
backs+=("$top")

cmd0=$1
guest_path=/bin:/sbin:/usr/bin:/usr/sbin
if [[ $cmd0 == */* ]]; then
	[ -e "$cmd0" ] || die "command $cmd0 does not exist"
	cmd0=$(realpath "$cmd0")
	copy_exe "$cmd0"
	set -- "$cmd0" "${@:2}"
elif ! "$busybox" --list | grep -x "$cmd0" >/dev/null; then
	host_cmd=$(command -v "$cmd0" 2>/dev/null) || die "command $cmd0 is not in PATH here nor a busybox applet"
	[[ $host_cmd == /* ]] || die "command $cmd0 is a shell builtin or alias; run it with sh -c"
	copy_exe "$(realpath "$host_cmd")"
	guest_path=$(dirname "$(realpath "$host_cmd")"):$guest_path
fi
for w in ${withs[@]+"${withs[@]}"}; do
	p=$(command -v "$w" 2>/dev/null) || die "--with $w: not found in PATH (install it first)"
	p=$(realpath "$p")
	copy_exe "$p"
	mkdir -p "$root/usr/local/bin"
	ln -sf "$p" "$root/usr/local/bin/$(basename "$w")"
done
guest_path=/usr/local/bin:$guest_path
if [ -n "${BPFFUZZ_QEMU_SHARE:-}" ]; then
	IFS=: read -r -a extra <<<"$BPFFUZZ_QEMU_SHARE"
	shares+=("${extra[@]}")
fi
for s in ${shares[@]+"${shares[@]}"}; do
	mkdir -p "$s"
	r=$(realpath "$s")
	copy_in "$r"
	backs+=("$r")
	# A share reached through a symlink (../shared beside a clone, linked
	# to elsewhere) is reached the same way inside.
	l=$(cd "$s" && pwd -L)
	if [ "$l" != "$r" ] && [ ! -e "$root$l" ]; then
		mkdir -p "$root$(dirname "$l")"
		ln -s "$r" "$root$l"
	fi
done
for a in "$@"; do
	case $a in
	-test.fuzzcachedir=* | -test.gocoverdir=*)
		d=${a#*=}
		mkdir -p "$d"
		copy_in "$(realpath "$d")"
		backs+=("$(realpath "$d")")
		;;
	-test.testlogfile=* | -test.coverprofile=* | -test.cpuprofile=* | -test.memprofile=* | -test.outputdir=*)
		d=${a#*=}
		[ "${a%%=*}" = -test.outputdir ] || d=$(dirname "$d")
		[[ $d == /* ]] || d=$cwd/$d
		mkdir -p "$root$d"
		backs+=("$d")
		;;
	esac
done

# Environment, quoted for sh.
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
{
	echo "export PATH=$guest_path HOME=/root TMPDIR=/tmp"
	while IFS= read -r name; do
		case $name in GOROOT | GOPATH | GOCACHE | GOMODCACHE | GOENV) continue ;; esac
		echo "export $name=$(q "${!name}")"
	done < <(compgen -e | grep -E '^(BPFFUZZ_|GO|CI$)' || true)
	for e in ${envs[@]+"${envs[@]}"}; do
		if [[ $e == *=* ]]; then
			echo "export ${e%%=*}=$(q "${e#*=}")"
		elif [ -n "${!e+x}" ]; then
			echo "export $e=$(q "${!e}")"
		fi
	done
} >"$root/bpffuzz/env"
{
	printf 'cd %s || exit 126\n' "$(q "$cwd")"
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(q "$a")"; done
	printf '\n'
} >"$root/bpffuzz/cmd"
printf '%s\n' "${backs[@]}" >"$root/bpffuzz/backs"

# Kernel modules: the ones asked for and their dependencies, from modules.dep.
: >"$root/bpffuzz/modules"
if [ -n "$modules" ]; then
	if [ -z "$kdir" ]; then
		[ -n "${BPFFUZZ_QEMU_MODULES+x}" ] && echo "$prog: --kernel PATH has no modules: not loading $modules" >&2
	else
		mdir=$(ls -d "$kdir"/lib/modules/* 2>/dev/null | head -1)
		if [ -n "$mdir" ] && [ ! -f "$mdir/modules.dep" ]; then
			"$busybox" depmod -b "$kdir" "$(basename "$mdir")" || die "depmod failed for $kdir"
		fi
		want=" "
		for m in ${modules//,/ }; do
			line=$(grep -E "/${m//[-_]/[-_]}\.ko(\.[a-z]+)?:" "$mdir/modules.dep" | head -1 || true)
			if [ -z "$line" ]; then
				grep -qE "/${m//[-_]/[-_]}\.ko" "$mdir/modules.builtin" 2>/dev/null ||
					echo "$prog: module $m is not in $(basename "$kdir")" >&2
				continue
			fi
			for f in ${line/:/}; do
				case $want in *" $f "*) ;; *) want="$want$f " ;; esac
			done
			echo "$m" >>"$root/bpffuzz/modules"
		done
		g=$root/lib/modules/$(basename "$mdir")
		mkdir -p "$g"
		cp "$mdir/modules.dep" "$g/"
		for f in $want; do
			mkdir -p "$g/$(dirname "$f")"
			cp "$mdir/$f" "$g/$f"
		done
	fi
fi
echo "$timeout $sync" >"$root/bpffuzz/limits"
# Files older than this stamp are what the host sent; newer ones go back.
touch -d "@$(($(date +%s) - 1))" "$root/bpffuzz/stamp"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm /sys/fs/bpf
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t bpf -o mode=0700 bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
ip link set lo up
for m in $(cat /bpffuzz/modules); do
	modprobe "$m" || echo "qemu-run: could not load module $m" >/dev/ttyS0
done
hostname bpffuzz-vm
ulimit -l unlimited
read -r limit every </bpffuzz/limits
stty -F /dev/ttyS1 raw -echo 2>/dev/null
stty -F /dev/ttyS2 raw -echo 2>/dev/null
# sendback TAG: the files written so far, as one base64 tar block on ttyS2.
sendback() {
	find $(cat /bpffuzz/backs) -newer /bpffuzz/stamp \( -type f -o -type l \) 2>/dev/null | sed 's,^/,,' >/tmp/.qemu-run-list
	{
		echo "BPFFUZZ-SYNC-BEGIN $1"
		(cd / && cpio -o -H newc </tmp/.qemu-run-list 2>/dev/null) | base64
		echo "BPFFUZZ-SYNC-END $1"
	} >/dev/ttyS2
}
echo "qemu-run: guest up after $(cut -d' ' -f1 /proc/uptime)s" >/dev/ttyS0
(
	. /bpffuzz/env
	. /bpffuzz/cmd
) </dev/null >/dev/ttyS1 2>&1 &
pid=$!
( sleep "$limit"; touch /tmp/.qemu-run-timeout; kill -9 $pid ) &
watchdog=$!
syncer=
if [ "$every" -gt 0 ]; then
	(
		n=0 t=0
		while [ ! -f /tmp/.qemu-run-done ]; do
			sleep 1
			t=$((t + 1))
			if [ "$t" -ge "$every" ] && [ ! -f /tmp/.qemu-run-done ]; then
				n=$((n + 1)) t=0
				sendback "$n"
			fi
		done
	) &
	syncer=$!
fi
wait $pid
rc=$?
kill $watchdog 2>/dev/null
touch /tmp/.qemu-run-done
[ -n "$syncer" ] && wait $syncer
[ -f /tmp/.qemu-run-timeout ] && rc=124
sendback final
echo "BPFFUZZ-EXIT $rc" >/dev/ttyS2
sync
poweroff -f
EOF
chmod 755 "$root/init"

(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null) >"$work/initrd" ||
	die "cannot build the initramfs"

# ---- accelerator
accel=${BPFFUZZ_QEMU_ACCEL:-}
if [ -z "$accel" ]; then
	accel=tcg
	if [ -w /dev/kvm ]; then
		boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
		mkdir -p "$cache"
		probe=$cache/kvm-$boot_id
		if [ ! -f "$probe" ]; then
			mkdir -p "$work/kvm"
			cp "$busybox" "$work/kvm/busybox"
			printf '#!/busybox sh\n/busybox echo BPFFUZZ-KVM-OK\n/busybox poweroff -f\n' >"$work/kvm/init"
			chmod 755 "$work/kvm/init"
			(cd "$work/kvm" && find . | "$busybox" cpio -o -H newc 2>/dev/null) >"$work/kvm.cpio"
			if timeout 20 qemu-system-x86_64 -accel kvm -cpu host -m 256M -nodefaults -display none -no-reboot \
				-serial stdio -kernel "$vmlinuz" -initrd "$work/kvm.cpio" \
				-append "console=ttyS0 panic=-1 quiet" </dev/null 2>/dev/null | grep -q BPFFUZZ-KVM-OK; then
				echo kvm >"$probe"
			else
				echo tcg >"$probe"
			fi
		fi
		accel=$(cat "$probe")
	fi
fi
case $accel in
# Under TCG the verifier alone can hold a CPU for more than the soft lockup
# detector's 20 s on a large program: that is emulation, not a kernel bug.
kvm) accel_args=(-accel kvm -cpu host) append= ;;
# The same holds for RCU's 21 s stall warning.
tcg) accel_args=(-accel tcg,thread=multi -cpu max) append="nosoftlockup rcupdate.rcu_cpu_stall_suppress=1" ;;
*) die "BPFFUZZ_QEMU_ACCEL must be kvm or tcg, not $accel" ;;
esac

# ---- run
: >"$work/console"
: >"$work/out"
: >"$work/back"
start=$(date +%s.%N)
qemu-system-x86_64 "${accel_args[@]}" -m "$mem" -smp "$cpus" \
	-nodefaults -display none -no-reboot -no-user-config \
	-kernel "$vmlinuz" -initrd "$work/initrd" \
	-append "console=ttyS0 panic=-1 loglevel=5 rdinit=/init $append" \
	-serial "file:$work/console" -serial "file:$work/out" -serial "file:$work/back" \
	</dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!
tail -n +1 -f --pid="$qemu_pid" "$work/out" &
tail_pid=$!

hard=$((timeout + 60))
deadline=$(($(date +%s) + hard))
killed=0
while kill -0 "$qemu_pid" 2>/dev/null; do
	if [ "$(date +%s)" -ge "$deadline" ]; then
		echo "$prog: the VM did not stop $hard s after start; killing it" >&2
		kill -9 "$qemu_pid" 2>/dev/null
		killed=1
		break
	fi
	sleep 0.2
done
wait "$qemu_pid" 2>/dev/null && qrc=0 || qrc=$?
qemu_pid=
wait "$tail_pid" 2>/dev/null || true
tail_pid=
if [ -n "${BPFFUZZ_QEMU_LOG:-}" ]; then
	cp "$work/console" "$BPFFUZZ_QEMU_LOG"
fi

# Boot time, for the curious: the guest prints its uptime when it is up.
if up=$(grep -ao 'qemu-run: guest up after [0-9.]*s' "$work/console"); then
	[ -n "${BPFFUZZ_QEMU_VERBOSE:-}" ] && echo "$prog: ${up#qemu-run: } (kernel uptime; host $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || true)s in all)" >&2
fi

# Files back: the last complete sync block.
last=$(grep -ao 'BPFFUZZ-SYNC-END [0-9a-z]*' "$work/back" | tail -1 | cut -d' ' -f2 || true)
if [ -n "$last" ]; then
	sed -n "/^BPFFUZZ-SYNC-BEGIN $last\r\{0,1\}\$/,/^BPFFUZZ-SYNC-END $last\r\{0,1\}\$/p" "$work/back" |
		sed '1d;$d' | tr -d '\r' | base64 -d >"$work/back.cpio" 2>/dev/null || true
	if [ -s "$work/back.cpio" ]; then
		(cd / && "$busybox" cpio -idmu <"$work/back.cpio" 2>/dev/null) ||
			echo "$prog: could not unpack some files the VM sent back" >&2
	fi
fi

rc=$(grep -ao 'BPFFUZZ-EXIT [0-9]*' "$work/back" | tail -1 | cut -d' ' -f2 || true)
pattern='Oops|BUG:|kernel BUG at|WARNING:|KASAN:|UBSAN:|Kernel panic|general protection fault|watchdog: BUG|self-detected stall|detected stalls|INFO: task .* blocked'
if grep -aEq "$pattern" "$work/console"; then
	echo "$prog: the kernel reported a problem; console log excerpt:" >&2
	grep -aE -m 1 -A 40 "$pattern" "$work/console" | tr -d '\r' >&2
	exit 125
fi
if [ "$killed" = 1 ]; then
	echo "$prog: timed out; files written up to the last sync${last:+ (#$last)} were copied back" >&2
	exit 124
fi
if [ -z "$rc" ]; then
	echo "$prog: the VM stopped without the command's exit status (QEMU exit $qrc); console:" >&2
	tr -d '\r' <"$work/console" | tail -30 >&2
	tail -5 "$work/qemu.log" >&2
	exit 126
fi
if [ "$rc" = 124 ]; then
	echo "$prog: the command ran past --timeout ${timeout}s and was killed; its files were copied back" >&2
fi
exit "$rc"
