"""Bulk reads of vCenter inventory with a ContainerView and the PropertyCollector.

`retrieve` asks for only the named properties of every object of the named types below a root,
in pages (`RetrievePropertiesEx`, then `ContinueRetrievePropertiesEx` until no token is left),
and yields plain dicts. Reading this way costs a few round trips for thousands of objects; reading
attribute by attribute costs one per property per object, and on vcsim reading an unset property
that way drops the connection.
"""

from pyVmomi import vim, vmodl

DEFAULT_PAGE_SIZE = 1000


def moid(ref):
    """The managed object id of a reference, or None."""
    return ref._moId if ref is not None else None


def _plain(value):
    # Managed object references become their moid; arrays of them become lists of moids.
    if isinstance(value, vim.ManagedObject):
        return value._moId
    if isinstance(value, list) and all(isinstance(item, vim.ManagedObject) for item in value):
        return [item._moId for item in value]
    return value


def retrieve(content, properties, root=None, page_size=DEFAULT_PAGE_SIZE):
    """Yield `{"_type", "_moid", prop: value...}` for every object of the types in `properties`.

    `properties` maps a vim type (e.g. `vim.VirtualMachine`) to the property paths to read. The
    ContainerView is destroyed however the iteration ends.
    """
    view = content.viewManager.CreateContainerView(
        container=root or content.rootFolder, type=list(properties), recursive=True
    )
    try:
        traversal = vmodl.query.PropertyCollector.TraversalSpec(
            name="view", path="view", skip=False, type=vim.view.ContainerView
        )
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[
                vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[traversal])
            ],
            propSet=[
                vmodl.query.PropertyCollector.PropertySpec(type=vim_type, pathSet=list(paths))
                for vim_type, paths in properties.items()
            ],
        )
        options = vmodl.query.PropertyCollector.RetrieveOptions(maxObjects=page_size)
        collector = content.propertyCollector
        result = collector.RetrievePropertiesEx(specSet=[spec], options=options)
        while result is not None:
            for obj in result.objects:
                item = {"_type": type(obj.obj).__name__.rsplit(".", 1)[-1], "_moid": obj.obj._moId}
                for prop in obj.propSet or []:
                    item[prop.name] = _plain(prop.val)
                yield item
            if not result.token:
                break
            result = collector.ContinueRetrievePropertiesEx(token=result.token)
    finally:
        view.Destroy()


def retrieve_one(content, ref, paths):
    """Read `paths` of the single object `ref` through the PropertyCollector as a dict."""
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=ref, skip=False)],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=type(ref), pathSet=list(paths))],
    )
    result = content.propertyCollector.RetrievePropertiesEx(
        specSet=[spec], options=vmodl.query.PropertyCollector.RetrieveOptions()
    )
    item = {"_type": type(ref).__name__.rsplit(".", 1)[-1], "_moid": ref._moId}
    if result is not None:
        for obj in result.objects:
            for prop in obj.propSet or []:
                item[prop.name] = _plain(prop.val)
    return item


def retrieve_many(content, refs, paths):
    """Read `paths` of the objects `refs` (of one type) in one round trip, and the round trips
    its continuation tokens ask for: `{moid: {path: value}}`, as `retrieve_one` reads one."""
    found = {ref._moId: {} for ref in refs}
    if not refs:
        return found
    collector = vmodl.query.PropertyCollector
    spec = collector.FilterSpec(
        objectSet=[collector.ObjectSpec(obj=ref, skip=False) for ref in refs],
        propSet=[collector.PropertySpec(type=type(refs[0]), pathSet=list(paths))],
    )
    result = content.propertyCollector.RetrievePropertiesEx(
        specSet=[spec], options=collector.RetrieveOptions()
    )
    while result is not None:
        for obj in result.objects:
            found[obj.obj._moId] = {prop.name: _plain(prop.val) for prop in obj.propSet or []}
        if not result.token:
            break
        result = content.propertyCollector.ContinueRetrievePropertiesEx(token=result.token)
    return found
