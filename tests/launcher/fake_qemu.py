#!/usr/bin/env python3
"""A stand-in for qemu-system-x86_64 in the launcher's lifecycle tests.

It understands the part of QEMU's command line the launcher relies on and behaves as QEMU does
there: `-daemonize` (the parent exits 0 once the daemon is set up, or non-zero with a message on
stderr), `-pidfile`, `-serial file:PATH` (the kernel command line from `-append` is written to it
as a booted guest would print it), and `-qmp unix:PATH,server=on,wait=off` (a greeting,
qmp_capabilities, query-status, quit, one client at a time). Other options are ignored.

`--fake-mode=MODE` chooses a misbehaviour: `exit` (fail at once, as QEMU does on a bad option),
`silent-qmp` (accept QMP connections but never answer), `ignore-quit` (answer quit but keep
running), `ignore-term` (that, and ignore SIGTERM too). `--fake-log-lines=N` writes N numbered
lines to the serial log after the command line.
"""
import json
import os
import signal
import socket
import sys


def parse(argv):
    opts = {"mode": "normal", "log_lines": 0, "append": "", "serial": None, "qmp": None,
            "pidfile": None, "daemonize": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        value = argv[i + 1] if i + 1 < len(argv) else None
        if arg.startswith("--fake-mode="):
            opts["mode"] = arg.split("=", 1)[1]
        elif arg.startswith("--fake-log-lines="):
            opts["log_lines"] = int(arg.split("=", 1)[1])
        elif arg == "-daemonize":
            opts["daemonize"] = True
        elif arg in ("-append", "-serial", "-qmp", "-pidfile"):
            opts[arg[1:]] = value
            i += 1
        elif arg.startswith("-") and value is not None and not value.startswith("-"):
            i += 1  # an option with a value the stand-in ignores (-m 256M, -kernel ...)
        i += 1
    return opts


def qmp_socket_path(spec):
    # unix:PATH,server=on,wait=off
    if not spec or not spec.startswith("unix:"):
        sys.exit("fake-qemu: -qmp must be unix:PATH,server=on,wait=off")
    return spec[len("unix:"):].split(",", 1)[0]


def send(conn, message):
    conn.sendall(json.dumps(message).encode() + b"\r\n")


def serve_client(conn, opts, listener, path):
    """One QMP session; returns when the client goes or the VM quits."""
    if opts["mode"] == "silent-qmp":
        while conn.recv(4096):
            pass
        return
    send(conn, {"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7},
                                    "package": "fake"}, "capabilities": ["oob"]}})
    negotiated = False
    pending = b""
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if not line.strip():
                continue
            command = json.loads(line).get("execute")
            if command == "qmp_capabilities":
                negotiated = True
                send(conn, {"return": {}})
            elif not negotiated:
                send(conn, {"error": {"class": "CommandNotFound",
                                      "desc": "Expecting capabilities negotiation with "
                                              "'qmp_capabilities'"}})
            elif command == "query-status":
                send(conn, {"return": {"status": "running", "singlestep": False,
                                       "running": True}})
            elif command == "quit":
                # QEMU announces the shutdown as an event, then answers.
                send(conn, {"timestamp": {"seconds": 0, "microseconds": 0},
                            "event": "SHUTDOWN",
                            "data": {"guest": False, "reason": "host-qmp-quit"}})
                send(conn, {"return": {}})
                if opts["mode"] not in ("ignore-quit", "ignore-term"):
                    conn.close()
                    listener.close()
                    os.unlink(path)
                    os._exit(0)
            else:
                send(conn, {"error": {"class": "CommandNotFound",
                                      "desc": "The command %s has not been found" % command}})


def main():
    opts = parse(sys.argv[1:])
    if opts["mode"] == "exit":
        sys.stderr.write("qemu-system-x86_64: -object tdx-guest,id=tdx: invalid object type: "
                         "tdx-guest\n")
        sys.exit(1)
    if not opts["daemonize"] or not opts["pidfile"] or not opts["serial"]:
        sys.exit("fake-qemu: needs -daemonize, -pidfile and -serial file:PATH")
    path = qmp_socket_path(opts["qmp"])

    # Daemonise as QEMU does: the parent waits on a pipe until the daemon is ready.
    ready_r, ready_w = os.pipe()
    if os.fork() > 0:
        os.close(ready_w)
        ok = os.read(ready_r, 1) == b"1"
        os._exit(0 if ok else 1)
    os.close(ready_r)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)

    if opts["mode"] == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(opts["pidfile"], "w") as f:
        f.write("%d\n" % os.getpid())
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    serial = opts["serial"][len("file:"):]
    with open(serial, "w") as log:
        log.write("fake-qemu: booting\r\n")
        log.write("fake-qemu: cmdline: %s\r\n" % opts["append"])
        for n in range(1, opts["log_lines"] + 1):
            log.write("line %d\r\n" % n)

    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.write(ready_w, b"1")
    os.close(ready_w)

    while True:
        conn, _ = listener.accept()
        try:
            serve_client(conn, opts, listener, path)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
