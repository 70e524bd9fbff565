"""Tiny applications for the cg-web lab host (Scripts/lab.d/72-web.sh): the same page served
by gunicorn (WSGI), uvicorn (ASGI) and Flask's development server (Werkzeug), so that what the
http probe reports comes from the server, not from the application."""

PAGE = b"<html><head><title>cg-web app</title></head><body>cartograph lab</body></html>\n"


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(PAGE)))])
    return [PAGE]


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/html"), (b"content-length", str(len(PAGE)).encode())]})
    await send({"type": "http.response.body", "body": PAGE})


def make_flask_app():
    from flask import Flask

    app = Flask("cg-web")

    @app.route("/")
    def index():
        return PAGE.decode()

    return app
