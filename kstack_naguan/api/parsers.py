"""Request body parsers that answer malformed bodies with the envelope, never a 500."""

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, refusing what Python's parser accepts but nothing downstream can use:
    bodies nested too deep (RecursionError) and strings holding a lone UTF-16 surrogate
    (`"\\ud800"`), which no UTF-8 text, database or password hasher can encode."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        except UnicodeEncodeError:
            raise ParseError("JSON parse error - a string holds a lone surrogate") from None
        return data
