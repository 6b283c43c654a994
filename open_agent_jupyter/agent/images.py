"""Images from tool results for the model: one user message after the turn's tool results.

Tool messages carry text only on most endpoints, so a turn's images (a plot the ``python``
tool made) follow as a user message of ``image_url`` parts, each introduced by its
description. Only the latest such message keeps its images (older ones become their
descriptions, so the conversation does not resend every plot); an endpoint that refuses
images gets every one replaced by its description (``strip_images``).
"""

from __future__ import annotations

from typing import Any

from ..types import ToolCall

#: Marks the user messages this module makes (ignored by endpoints).
IMAGE_INTRO = "Images output by the tool calls above:"


def image_message(shown: list[tuple[ToolCall, list[dict[str, str]]]]) -> dict[str, Any]:
    """A user message holding the images of this turn's tool results."""
    parts: list[dict[str, Any]] = [{"type": "text", "text": IMAGE_INTRO}]
    for call, images in shown:
        for image in images:
            parts.append({"type": "text",
                          "text": f"{call.name} call {call.id}: {image['description']}"})
            parts.append({"type": "image_url",
                          "image_url": {"url": f"data:{image['mime']};base64,{image['data']}"}})
    return {"role": "user", "content": parts}


def strip_images(messages: list[dict[str, Any]]) -> bool:
    """Replace image parts by their descriptions in place; True if any was replaced."""
    changed = False
    for message in (m for m in messages if _is_image_message(m)):
        texts = [p["text"] for p in message["content"] if p.get("type") == "text"]
        if len(texts) != len(message["content"]):
            changed = True
        message["content"] = "\n".join([texts[0] + " (not shown: descriptions only)",
                                        *texts[1:]])
    return changed


def _is_image_message(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return (message.get("role") == "user" and isinstance(content, list) and bool(content)
            and content[0].get("text") == IMAGE_INTRO)
