"""The users page, for admins only: every account with its role; add one, change its role, end
its logins and API tokens, make it a token, or remove it (as `rag users` does on the server)."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

import ui
from rag.accounts import Accounts, Role, User
from rag.markdown import escape
from rag.types import UserError

# Session keys: what the last change did, said on the run after it (whose list shows it),
# and the account whose removal awaits confirmation.
DONE, REMOVING = "users_done", "removing_user"
# Session key of the account chosen to change.
CHOSEN = "user_choice"
ROLES = list(Role)


def done(note: str) -> NoReturn:
    """Run the page again, to list the change just made, and say it there."""
    st.session_state[DONE] = note
    st.rerun()


def users_table(users: list[User]) -> None:
    """Every account: its name, role and when it was made."""
    st.dataframe(
        [{"User": user.name, "Role": str(user.role), "Added": f"{user.created:%Y-%m-%d %H:%M} UTC"}
         for user in users],
        hide_index=True, width="stretch",
    )  # fmt: skip


def change_panel(kept: Accounts, users: list[User]) -> None:
    """One account: its role, a new API token, the end of its logins and tokens, removal."""
    st.subheader("Change a user")
    by_name = {user.name: user for user in users}
    name = st.selectbox("User", list(by_name), index=None, key=CHOSEN,
                        placeholder="Choose a user")  # fmt: skip
    if name is None:
        return
    user = by_name[name]
    role_box, set_box = st.columns([3, 1], vertical_alignment="bottom")
    role = role_box.selectbox("Role", ROLES, index=ROLES.index(user.role), key=f"role_{name}",
                              format_func=str)  # fmt: skip
    if set_box.button("Change role", key="set_role", disabled=role is user.role):
        with ui.guard("changing the role"):
            kept.set_role(name, role)
            done(f"{name} is now {role}.")
    token_box, revoke_box, remove_box = st.columns(3)
    make_token = token_box.button("Make an API token", key="new_token", icon=":material/key:")
    if revoke_box.button(
        "End logins and tokens", key="revoke", icon=":material/block:",
        help="Every API token and login session of this user ends at once; the password "
        "still works.",
    ):  # fmt: skip
        with ui.guard("ending the logins and tokens"):
            kept.revoke(name)
            done(f"Every login and API token of {name} has ended.")
    if remove_box.button("Remove", key="remove_user", icon=":material/person_remove:"):
        st.session_state[REMOVING] = name
    if make_token:
        with ui.guard("making a token"):
            token = kept.new_token(name)
            # Only its digest is kept: this is the one time anyone sees it.
            st.success(escape(f"A new API token for {name}. It is not kept: copy it now."))
            st.code(token, language=None)
    if st.session_state.get(REMOVING) == name:
        confirm_removal(kept, name)


def confirm_removal(kept: Accounts, name: str) -> None:
    """Ask before removing an account."""
    st.warning(escape(f"Remove {name}? Their logins and API tokens end at once; their "
                      "conversations stay, under their name."))  # fmt: skip
    yes, no = st.columns(2)
    if yes.button("Remove for good", type="primary", key="remove_confirmed"):
        st.session_state.pop(REMOVING)
        with ui.guard("removing the user"):
            kept.remove(name)
            st.session_state.pop(CHOSEN)
            done(f"Removed {name}.")
    if no.button("Keep", key="remove_cancelled"):
        st.session_state.pop(REMOVING)
        st.rerun()


def add_form(kept: Accounts) -> None:
    """A new account: its name, its role, and its password typed twice."""
    with st.form("add_user", clear_on_submit=True):
        st.subheader("Add a user")
        name = st.text_input("User name", key="new_name",
                             help="1 to 64 letters, digits, '.', '_' or '-'.")  # fmt: skip
        role = st.selectbox("Role", ROLES, index=ROLES.index(Role.READER), key="new_role",
                            format_func=str)  # fmt: skip
        password = st.text_input("Password", type="password", key="new_password",
                                 autocomplete="new-password")  # fmt: skip
        again = st.text_input("Repeat the password", type="password", key="new_password_again",
                              autocomplete="new-password")  # fmt: skip
        added = st.form_submit_button("Add", type="primary", key="add_account")
    if not added:
        return
    with ui.guard("adding the user"):
        if password != again:
            raise UserError("The two passwords differ: type the same one twice.")
        user = kept.add(name.strip(), password, role)
        done(f"Added {user.name}, {user.role}.")


st.title("Users")
st.caption(
    "Who may use this app and its API. A reader asks questions; an editor also adds, "
    "re-indexes and removes files; an admin also manages the users. On the server, "
    "`rag users` does the same."
)
if note := st.session_state.pop(DONE, None):
    st.success(escape(note))
with ui.guard("listing the users"):
    accounts = ui.accounts(ui.settings())
    listed = accounts.users()
    users_table(listed)
    change_panel(accounts, listed)
    add_form(accounts)
