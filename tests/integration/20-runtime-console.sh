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
check_match "a terminal without --console-socket is refused clearly" "pass --console-socket" \
        "$(cd "$B" && rt run t2 2>&1)"

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
