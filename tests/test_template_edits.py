"""An owner's edit to a template shows without a restart, within seconds; between checks the
template is not looked at on disk for every email."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from service import render
from service.render import Renderer
from service.settings_types import ASSETS_ROOT


def test_an_edited_template_is_used_within_the_recheck_interval(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ASSETS_ROOT / "templates", templates)
    (templates / "owner.txt").write_text("Hello {{ name }}\n", encoding="utf-8")
    renderer = Renderer(templates)
    assert renderer.text("owner.txt", name="Ada") == "Hello Ada\n"

    edited = templates / "owner.txt"
    edited.write_text("Welcome {{ name }}\n", encoding="utf-8")
    later = time.time() + 5  # an edit is seen by its time stamp, which a fast test could tie
    os.utime(edited, (later, later))
    # Within the interval the template in memory is used: no look at the disk per email.
    assert renderer.text("owner.txt", name="Ada") == "Hello Ada\n"
    time.sleep(render.RECHECK_SECONDS + 0.1)
    assert renderer.text("owner.txt", name="Ada") == "Welcome Ada\n"
