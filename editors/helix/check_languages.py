#!/usr/bin/env python3
"""Checks the Helix snippet without Helix: it parses as TOML with the keys Helix reads, and the server
command it names, run as Helix would (command + args, `config` as initializationOptions), answers an
LSP initialize and publishes the fixture's diagnostic.

Usage: check_languages.py DIR_WITH_policy-lsp_ON_IT FIXTURES_DIR
"""

import json
import os
import subprocess
import sys
import tomllib

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from checks import check, finish  # noqa: E402 - the shared reporting of editors/

HERE = os.path.dirname(os.path.abspath(__file__))
def send(process, message):
    body = json.dumps(message).encode()
    process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    process.stdin.flush()


def receive(process):
    length = 0
    while True:
        line = process.stdout.readline()
        assert line, "the server closed its output"
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return json.loads(process.stdout.read(length))


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    bin_dir, fixtures = sys.argv[1], os.path.abspath(sys.argv[2])
    with open(os.path.join(HERE, "languages.toml"), "rb") as file:
        config = tomllib.load(file)

    def structure():
        server = config["language-server"]["policy-lsp"]
        assert server["command"] == "policy-lsp" and server["args"] == ["serve"], server
        assert isinstance(server.get("config", {}), dict), "config must be a table (initializationOptions)"
        yaml = [language for language in config["language"] if language["name"] == "yaml"]
        assert len(yaml) == 1, "one [[language]] entry for yaml"
        assert "policy-lsp" in yaml[0]["language-servers"], "yaml does not use policy-lsp"
        assert "yaml-language-server" in yaml[0]["language-servers"], "yaml-language-server is no longer kept"
        assert yaml[0]["roots"][0] == ".git", "the repository root comes first"
        rego = [language for language in config["language"] if language["name"] == "rego"]
        assert len(rego) == 1 and "policy-lsp" in rego[0]["language-servers"], "rego does not use policy-lsp"

    def server_runs():
        server = config["language-server"]["policy-lsp"]
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"])
        process = subprocess.Popen(
            [server["command"], *server["args"]], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        try:
            send(process, {
                "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {},
                           "initializationOptions": server.get("config", {})},
            })
            reply = receive(process)
            assert reply["result"]["serverInfo"]["name"] == "policy-lsp", reply
            assert "diagnosticProvider" not in reply["result"]["capabilities"], "Helix gets push diagnostics"
            send(process, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
            path = os.path.join(fixtures, "require-team.yaml")
            with open(path, encoding="utf-8") as file:
                text = file.read()
            uri = "file://" + path
            send(process, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
                "textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}})
            while True:
                message = receive(process)
                if message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
                    break
            codes = [diagnostic["code"] for diagnostic in message["params"]["diagnostics"]]
            assert codes == ["schema/enum"], codes
            send(process, {"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        finally:
            process.kill()
            process.wait()

    check("helix: languages.toml has the keys Helix reads", structure)
    check("helix: the configured command starts the server and it pushes diagnostics", server_runs)
    return finish("helix")


if __name__ == "__main__":
    sys.exit(main())
