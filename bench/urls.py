"""The project's URLs plus the baseline of the API benchmark at `/api/bench/plain-vms`.

The baseline sits under `/api/` so that every middleware, the request log included, treats it
as it treats the real list: the comparison isolates what DRF, the serializer and the envelope
cost.
"""

from django.urls import path

from kstack_naguan import urls as project_urls

from .views import plain_vm_list

urlpatterns = [
    path("api/bench/plain-vms", plain_vm_list, name="bench-plain-vms"),
    *project_urls.urlpatterns,
]

handler400 = project_urls.handler400
handler404 = project_urls.handler404
handler500 = project_urls.handler500
