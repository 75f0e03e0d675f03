from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.sdk.fakes import FakeController


@pytest.fixture
async def fake() -> AsyncIterator[FakeController]:
    controller = FakeController()
    await controller.start()
    yield controller
    await controller.stop()
