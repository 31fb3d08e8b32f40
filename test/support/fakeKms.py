"""A key service on loopback that answers every AWS KMS Decrypt with a data key of its own
choosing (32 bytes "A"): what a state writer would run to have its own ciphertext taken for the
state's secrets (test/e2e/stateSecretsProvider.test.ts). Usage: fakeKms.py PORT"""
import base64, http.server, json, sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        out = json.dumps({"KeyId": "x", "Plaintext": base64.b64encode(b"A" * 32).decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
