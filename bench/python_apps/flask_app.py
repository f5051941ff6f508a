"""The Flask app of the Python-apps benchmark (run_apps_bench.sh): WSGI.

GET /hello -> "Hello, world!" (text/html, Flask's default for a str)
GET /json  -> {"message": "Hello, world!", "ok": true, "count": 3} via jsonify
"""

from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/hello")
def hello():
    return "Hello, world!"


@app.route("/json")
def json_route():
    return jsonify(message="Hello, world!", ok=True, count=3)
