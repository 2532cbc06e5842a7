"""newsdesk in the browser: a chat whose answers cite the articles they come from.

Thin by design: it renders `Answer` objects from `rag.pipeline`; retrieval and parsing live
in the package. Start it with `make run` (or `streamlit run app.py`).
"""

from __future__ import annotations

import html

import streamlit as st

from rag.config import Settings
from rag.pipeline import Pipeline
from rag.types import Answer, UserError

st.set_page_config(page_title="newsdesk", page_icon="📰", layout="centered")


@st.cache_resource(show_spinner="Loading the index and the embedding model...")
def pipeline() -> Pipeline:
    """One warm pipeline shared by every browser session."""
    return Pipeline(Settings())


def render(answer: Answer) -> None:
    """An answer, its mode, and one card per cited passage."""
    st.markdown(answer.answer)
    if answer.searched_for != answer.question:
        st.caption(f"Searched for: {answer.searched_for}")
    for citation in answer.citations:
        also = f" · also in {', '.join(citation.also_in)}" if citation.also_in else ""
        with st.expander(f"[{citation.n}] {citation.title} — {citation.date or 'undated'}"):
            st.caption(f"{citation.file}, characters {citation.start}–{citation.end}{also}")
            # Article text is shown as text, never as HTML from the corpus.
            st.markdown(f"> {html.escape(citation.quote)}")
    if answer.abstained and answer.hits:
        with st.expander("Closest passages"):
            for hit in answer.hits[:3]:
                st.caption(f"{hit.chunk.file} — {hit.chunk.title}")
                st.text(hit.chunk.text[:400])


st.title("newsdesk")
try:
    status = pipeline().index.status()
except UserError as error:
    st.error(str(error))
    st.stop()
st.caption(
    f"Offline extractive mode · {status.files} files, {status.articles} articles, "
    f"{status.chunks} passages · last indexed {status.last_indexed or 'never'}"
)
if not status.files:
    st.warning("The index is empty: add articles to the corpus folder and run `rag ingest`.")

if "turns" not in st.session_state:
    st.session_state.turns = []
for question, answer in st.session_state.turns:
    with st.chat_message("user"):
        st.markdown(html.escape(question))
    with st.chat_message("assistant"):
        render(answer)

if question := st.chat_input("Ask about the articles"):
    with st.chat_message("user"):
        st.markdown(html.escape(question))
    with st.chat_message("assistant"):
        try:
            history = [q for q, _ in st.session_state.turns]
            answer = pipeline().ask(question, history)
        except UserError as error:
            st.error(str(error))
        else:
            render(answer)
            st.session_state.turns.append((question, answer))
