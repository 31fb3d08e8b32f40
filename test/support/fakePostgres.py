#!/usr/bin/python3
"""A PostgreSQL impostor, run by the tests as another local account (uid 65534): it answers
SSLRequest with a certificate of its own (so every sslmode below verify-ca goes on), asks for
the password in clear, and appends what it receives to a log file.
usage: fakePostgres.py PORT LOGFILE CERT KEY [HOST|/SOCKET-DIR]"""
import socket, ssl, struct, sys, threading

port, logf, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
host = sys.argv[5] if len(sys.argv) > 5 else "127.0.0.1"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)

def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b

def handle(s):
    try:
        n, = struct.unpack("!I", recvn(s, 4))
        body = recvn(s, n - 4)
        tls = False
        if n == 8 and struct.unpack("!I", body)[0] == 80877103:  # SSLRequest
            s.sendall(b"S")
            s = ctx.wrap_socket(s, server_side=True)
            tls = True
            n, = struct.unpack("!I", recvn(s, 4))
            body = recvn(s, n - 4)
        params = body[4:].split(b"\0")
        s.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
        t = recvn(s, 1)
        n, = struct.unpack("!I", recvn(s, 4))
        pw = recvn(s, n - 4).rstrip(b"\0")
        with open(logf, "a") as f:
            f.write(f"tls={tls} startup={params!r} password={pw.decode(errors='replace')}\n")
        msg = b"SFATAL\0C28P01\0Mpassword authentication failed\0\0"
        s.sendall(b"E" + struct.pack("!I", len(msg) + 4) + msg)
    except Exception as e:
        with open(logf, "a") as f:
            f.write(f"error {e!r}\n")
    finally:
        try: s.close()
        except Exception: pass

if host.startswith("/"):  # a Unix socket directory, as PostgreSQL names it: DIR/.s.PGSQL.PORT
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(f"{host}/.s.PGSQL.{port}")
    import os
    os.chmod(f"{host}/.s.PGSQL.{port}", 0o777)
else:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    srv.bind((host, port))
srv.listen(16)
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
