"""The API client the pages use: the real one, or whatever a test put in st.session_state."""

import streamlit as st

from piano_ai.settings import get_settings
from piano_dashboard.client import ApiClient, JobsApi

CLIENT_KEY = "api_client"  # tests inject a fake JobsApi under this st.session_state key


@st.cache_resource(show_spinner=False)  # instant; the default spinner would name this function
def _shared_client(base_url: str, api_key: str | None) -> ApiClient:
    return ApiClient(base_url, api_key)


def get_client() -> JobsApi:
    """The client for PIANO_AI_API_URL with key PIANO_AI_API_KEY, shared by every session (httpx.Client
    is thread-safe)."""
    injected = st.session_state.get(CLIENT_KEY)
    if injected is not None:
        return injected  # type: ignore[no-any-return]
    settings = get_settings()
    return _shared_client(settings.api_url, settings.api_key)
