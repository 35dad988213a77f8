#!/usr/bin/env bash
# process.terminal: the pty master goes over --console-socket with
# SCM_RIGHTS (runc's protocol); consoleSize; exec --tty.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/runtime-lib.sh"

B=$T/b
rt_bundle "$B"
rt_cfg "$B" 'c["process"]["terminal"] = True; c["process"]["consoleSize"] = {"height": 33, "width": 101}'
rt_args "$B" sh -c 'tty; stty size; test -t 0 && echo stdin-is-tty'

# console_listen SOCK OUT: accept one connection, take the fd, copy the pty
# output to OUT until EOF. Prints "ready" once listening.
console_listen() {
        python3 - "$1" "$2" <<'PY' &
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
fds = array.array("i")
msg, anc, flags, addr = c.recvmsg(1024, socket.CMSG_LEN(fds.itemsize))
for level, typ, data in anc:
    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
        fds.frombytes(data[:fds.itemsize])
out = open(sys.argv[2], "wb")
out.write(b"name=" + msg + b"\n")
out.flush()
while True:
    try:
        b = os.read(fds[0], 4096)
    except OSError:
        break
    if not b:
        break
    out.write(b); out.flush()
PY
}

console_listen "$T/console.sock" "$T/console.out" >"$T/listen.log"
lpid=$!
for _ in $(seq 100); do grep -q ready "$T/listen.log" 2>/dev/null && break; sleep 0.05; done
(cd "$B" && rt run --console-socket "$T/console.sock" t1 </dev/null >"$T/run.out" 2>&1)
check_eq "run with a terminal exits 0" 0 $?
wait $lpid
out=$(tr -d '\r' <"$T/console.out")
check_match "the pty master arrived over the console socket" "^name=/dev/ptmx" "$out"
check_match "the process has a pty as its terminal" "^/dev/pts/[0-9]+" "$out"
check_match "consoleSize is applied" "^33 101" "$out"
check_match "stdin is the terminal" "stdin-is-tty" "$out"
check_match "create with a terminal but no --console-socket is refused clearly" "pass --console-socket" \
        "$(cd "$B" && rt create t2 2>&1)"

# run without --console-socket proxies the pty itself (as runc): `script`
# gives the runtime a terminal of its own.
if command -v script >/dev/null; then
        rt_args "$B" sh -c 'tty; stty size; read x; echo got=$x; exit 4'
        rt_cfg "$B" 'del c["process"]["consoleSize"]'
        out=$(cd "$B" && printf 'hello\n' | timeout 20 script -qec \
                "stty cols 77 rows 22; '$GB_RUNTIME' --root '$RT_ROOT' run t2b" /dev/null 2>&1)
        rc=$?
        check_match "run proxies a terminal: the process has a pty" "/dev/pts/[0-9]+" "$out"
        check_match "... sized like the runtime's terminal" "22 77" "$out"
        check_match "... input reaches it" "got=hello" "$out"
        check_eq "... and its exit code comes back" 4 "$rc"
else
        skip "no script(1) to give the runtime a terminal"
fi

# exec --tty into a running container
rt_cfg "$B" 'c["process"]["terminal"] = False'
rt_args "$B" sleep 1000
rt_bg run --detach --bundle "$B" t3
console_listen "$T/console2.sock" "$T/console2.out" >"$T/listen2.log"
lpid=$!
for _ in $(seq 100); do grep -q ready "$T/listen2.log" 2>/dev/null && break; sleep 0.05; done
rt exec --tty --console-socket "$T/console2.sock" t3 sh -c 'tty' </dev/null >/dev/null 2>&1
check_eq "exec --tty exits 0" 0 $?
wait $lpid
check_match "exec --tty gets its own pty" "^/dev/pts/[0-9]+" "$(tr -d '\r' <"$T/console2.out")"
rt delete --force t3
done_testing
