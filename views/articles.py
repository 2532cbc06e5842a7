"""The articles page: every indexed article with its title, date and file, the corpus's date
range, a search by title, and (for editors and admins) removing a file from the corpus."""

from __future__ import annotations

import streamlit as st

import ui
from rag.manifest import Manifest
from rag.markdown import escape
from rag.uploads import REMOVED_FOLDER, UploadError, remove_from_corpus

# Session key of the file a reader asked to remove, awaiting confirmation.
REMOVING = "removing_file"


def articles_table(manifest: Manifest, search: str) -> list[dict[str, object]]:
    """One row per indexed article whose title holds `search` (any case), by file."""
    wanted = search.casefold().strip()
    return [
        {
            "Title": article.title,
            "Date": (f"{article.date:%Y-%m-%d}" if article.date else "undated")
            + (" (estimated)" if article.date_evidence else ""),
            "File": name,
            "Passages in file": entry.chunks,
        }
        for name, entry in manifest.complete_files().items()
        for article in entry.articles
        if wanted in article.title.casefold()
    ]


def remove_panel(manifest: Manifest) -> None:
    """Choose a file to take out of the corpus; it is moved aside and the index updated."""
    settings = ui.settings()
    files = sorted(manifest.complete_files())
    st.subheader("Remove a file")
    name = st.selectbox("File", files, index=None, key="remove_choice",
                        placeholder="Choose a file to remove")  # fmt: skip
    if name and st.button("Remove from the corpus", key="remove"):
        st.session_state[REMOVING] = name
    removing = st.session_state.get(REMOVING)
    if not removing:
        return
    st.warning(escape(
        f"Remove {removing}? It is moved to {REMOVED_FOLDER}/ inside the corpus folder (not "
        "deleted), and answers stop quoting it."
    ))  # fmt: skip
    yes, no = st.columns(2)
    if yes.button("Remove", type="primary", key="remove_confirmed"):
        st.session_state.pop(REMOVING)
        try:
            moved = remove_from_corpus(settings.corpus_dir, removing)
        except UploadError as error:
            st.session_state.corpus_notes = [("error", str(error))]
        else:
            ui.reindex(settings)  # its notes show in the sidebar's corpus panel
            where = moved.relative_to(settings.corpus_dir.resolve()).as_posix()
            st.session_state.corpus_notes.insert(0, ("success", f"Moved {removing} to {where}."))
        st.rerun()
    if no.button("Keep it", key="remove_cancelled"):
        st.session_state.pop(REMOVING)
        st.rerun()


st.title("Articles")
with ui.guard("listing the articles"):
    listed = ui.manifest(ui.settings())
    st.caption(escape(ui.date_range(listed)))
    query = st.text_input("Search titles", key="title_search", placeholder="e.g. troops")
    rows = articles_table(listed, query)
    if rows:
        # As wide as the page, the title given the room and the file shown whole: a column
        # past the page's edge reads as cut off.
        st.dataframe(
            rows, hide_index=True, width="stretch",
            column_config={
                "Title": st.column_config.TextColumn(width=290),
                "Date": st.column_config.TextColumn(width=140),
                "File": st.column_config.TextColumn(width=190),
                "Passages in file": st.column_config.NumberColumn("Passages", width=80),
            },
        )  # fmt: skip
    else:
        st.info(escape(f"No article title holds {query!r}.") if query else "No articles yet.")
    if ui.visitor().can_edit:
        remove_panel(listed)
