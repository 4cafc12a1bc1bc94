"""The photo editor on /admin/doctors/[doctor_id]: the doctor's photo (or initials), `Upload
photo` (a file picker: click the button, or drop a file on it) and `Remove photo`.

`photo_editor()` is self-contained: it loads itself when it appears (`on_mount`) from the
doctor in the page's address, and `DoctorPhotoState` checks the admin role in every handler.
The browser refuses a file over 5 MB or of another type before sending it; the server checks
again whatever arrives (`domain.doctor_photo`).
"""

from __future__ import annotations

import reflex as rx

from efoy_app.components.avatar import avatar
from efoy_app.components.layout import error_callout, hint, notice_callout
from efoy_app.domain.doctor_photo import MAX_PHOTO_BYTES
from efoy_app.state.doctor_photo import ACCEPT, UPLOAD_ID, DoctorPhotoState

S = DoctorPhotoState


def upload_button() -> rx.Component:
    """A button inside the dropzone: clicking it (or Enter/Space on it) opens the file picker,
    as the zone's own click does. The zone itself takes no focus (`no_keyboard`), so there is
    one Tab stop, the button, with its name."""
    zone = rx.upload.root(
        rx.button(
            rx.icon("upload", size=16),
            "Upload photo",
            type="button",
            variant="soft",
            loading=S.busy,
            disabled=S.busy,
            aria_describedby="doctor-photo-rules",
        ),
        id=UPLOAD_ID,
        accept=ACCEPT,
        multiple=False,
        max_files=1,
        max_size=MAX_PHOTO_BYTES,
        no_keyboard=True,
        disabled=S.busy,
        on_drop=S.upload_photo(rx.upload_files(upload_id=UPLOAD_ID)),
        on_drop_rejected=S.photo_rejected,
    )
    return _label_file_inputs(zone, "Photo file")


def _label_file_inputs(zone: rx.Component, label: str) -> rx.Component:
    """Name react-dropzone's own <input type=file>, which rx.upload gives no props to: it is
    out of the Tab order, but still a form field to assistive technology (and to axe)."""
    for box in zone.children:
        for child in box.children:
            if getattr(child, "tag", None) == "input":
                child.custom_attrs["aria-label"] = label
    return zone


def photo_editor() -> rx.Component:
    """The doctor's photo with `Upload photo` and `Remove photo`, errors as sentences."""
    return rx.card(
        rx.vstack(
            rx.heading("Photo", size="4", as_="h2", id="doctor-photo-heading"),
            rx.flex(
                avatar(S.initials, size="96px", photo_url=S.photo_src, photo_alt=S.photo_alt),
                rx.vstack(
                    hint(
                        "A JPEG, PNG or WebP of at most 5 MB. It is cropped to a square from "
                        "the middle and shown to patients 400 pixels wide; the camera's details "
                        "(place, date) are not kept.",
                        id="doctor-photo-rules",
                    ),
                    rx.cond(
                        S.has_photo,
                        hint("Patients see this photo beside the doctor's name."),
                        hint("No photo yet: patients see the initials."),
                    ),
                    rx.hstack(
                        upload_button(),
                        rx.cond(
                            S.has_photo,
                            rx.button(
                                rx.icon("trash-2", size=16),
                                "Remove photo",
                                type="button",
                                variant="soft",
                                color_scheme="red",
                                on_click=S.remove_photo,
                                disabled=S.busy,
                            ),
                        ),
                        spacing="3",
                        wrap="wrap",
                    ),
                    spacing="2",
                    align="start",
                    min_width="0",
                ),
                gap="4",
                align="center",
                direction=rx.breakpoints(initial="column", sm="row"),
            ),
            error_callout(S.error, width="100%", id="doctor-photo-error"),
            notice_callout(S.notice, width="100%", id="doctor-photo-notice"),
            spacing="3",
            width="100%",
            on_mount=S.load,
        ),
        role="region",
        aria_labelledby="doctor-photo-heading",
        id="doctor-photo",
        width="100%",
        # Drawn again when the address names another doctor, even if the page around it stays
        # mounted: the content (whose on_mount loads it) is then mounted afresh. The key must be
        # on this outer element, not beside on_mount, whose effect lives in the element's wrapper.
        key=S.router.url.path,
    )
