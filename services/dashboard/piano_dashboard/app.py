"""piano-ai dashboard entry point: it only sets up the page and routes (st.navigation).

Run: streamlit run services/dashboard/piano_dashboard/app.py --server.port 8501
"""

import streamlit as st

st.set_page_config(page_title="piano-ai", page_icon=":material/piano:", layout="wide")
# Pages report API and input errors themselves; anything unexpected shows its type, never a stack trace.
st.set_option("client.showErrorDetails", "type")
st.set_option("client.toolbarMode", "minimal")  # no "Deploy" button: this is a product, not a notebook

pages = [
    st.Page("app_pages/convert.py", title="Convert", icon=":material/piano:", default=True),
    st.Page("app_pages/library.py", title="Library", icon=":material/library_music:"),
    st.Page("app_pages/visualizer.py", title="MIDI visualizer", icon=":material/queue_music:"),
    st.Page("app_pages/queue.py", title="Queue", icon=":material/monitoring:"),
]
st.navigation(pages).run()
