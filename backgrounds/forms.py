"""Forms for the background library page."""

from django import forms

from backgrounds.models import Background

NAME_MAX = Background._meta.get_field("name").max_length


class BackgroundUploadForm(forms.Form):
    image = forms.FileField(
        label="Image",
        allow_empty_file=True,  # the service gives an empty file its own clear message
        help_text="JPEG, PNG or WebP, up to 20 MB and 50 megapixels.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    name = forms.CharField(
        label="Name",
        max_length=NAME_MAX,
        required=False,
        help_text="Optional; the file name is used when left blank.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Home office"}),
    )
