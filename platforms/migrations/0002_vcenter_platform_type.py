from django.db import migrations


def create_vcenter_type(apps, schema_editor):
    PlatformType = apps.get_model("platforms", "PlatformType")
    PlatformType.objects.get_or_create(name="vCenter", defaults={"description": "VMware vCenter Server"})


class Migration(migrations.Migration):
    dependencies = [("platforms", "0001_initial")]

    operations = [migrations.RunPython(create_vcenter_type, migrations.RunPython.noop)]
