"""A tiny HTTP app for config-examples/fcgi-program.conf: it accepts on fd 0, the listening
socket supervisord shares with every process of the [fcgi-program:web] group, and answers
every request with the name of the process that served it. Standard library only."""
import os
import socket

listener = socket.socket(fileno=os.dup(0))  # tcp or unix: the family is read from the fd
name = os.environ.get("SUPERVISOR_PROCESS_NAME", "?")
print("%s: serving on %s" % (name, listener.getsockname()), flush=True)
while True:
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(5)
        try:
            conn.recv(65536)  # the request head; this app answers every path the same way
            body = ("hello from %s (pid %d)\n" % (name, os.getpid())).encode()
            conn.sendall(
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )
        except OSError:
            pass
