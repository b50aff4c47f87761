"""The MCP tools answer in JSON: text content, and ``structuredContent`` that each tool's ``outputSchema`` describes.

Gradio 6.31 gives a tool's result as ``str(value)``, a Python repr that ``json.loads`` rejects,
and lists its tools without an ``outputSchema`` (``gradio/mcp.py``: ``postprocess_output_data``,
``call_tool``, ``list_tools``). Its MCP server is the MCP SDK's low-level ``Server``, whose
handlers are kept by request type: the two are wrapped there as the app starts, before any request.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import gradio as gr
from mcp import types

OUTPUT_SCHEMAS = json.loads((Path(__file__).parent / "tool_results.json").read_text(encoding="utf-8"))


def lifespan(demo: gr.Blocks):
    """The app's lifespan: with --mcp, ``demo``'s tools answer in JSON from the first request on."""

    @contextlib.asynccontextmanager
    async def started(app):
        if demo.mcp_server_obj:
            answer_in_json(demo.mcp_server_obj)
        yield

    return started


def answer_in_json(gradio_mcp) -> None:
    gradio_mcp.postprocess_output_data = json_text
    handlers = gradio_mcp.mcp_server.request_handlers
    handlers[types.ListToolsRequest] = with_output_schemas(handlers[types.ListToolsRequest])
    handlers[types.CallToolRequest] = with_structured_content(handlers[types.CallToolRequest])


def json_text(outputs: list, root_url: str) -> list[types.TextContent]:
    """A tool's outputs as JSON text; ``root_url`` is what Gradio gives links to files with, and these tools return none."""
    return [types.TextContent(type="text", text=json.dumps(value, ensure_ascii=False)) for value in outputs]


def structured(value) -> dict:
    """MCP's structured content is an object, so a list comes as ``{"result": [...]}``, as Gradio and the MCP SDK wrap one."""
    return value if isinstance(value, dict) else {"result": value}


def with_output_schemas(list_tools):
    async def listed(request):
        result = await list_tools(request)
        for tool in result.root.tools:
            tool.outputSchema = OUTPUT_SCHEMAS[tool.name]
        return result

    return listed


def with_structured_content(call_tool):
    async def called(request):
        result = await call_tool(request)
        if not result.root.isError:
            [text] = result.root.content
            result.root.structuredContent = structured(json.loads(text.text))
        return result

    return called
