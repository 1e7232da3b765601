"""The baseline: a FastAPI endpoint that reads the body and answers, served by the same uvicorn settings."""

import sys

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/noop/{store}")
async def noop(store: str, request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"status": "ok"})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
