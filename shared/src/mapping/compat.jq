# jq 1.7 definitions layered over jaq's standard library by the mapping engine.
# Regular expressions: every filter goes through the native `_match_impl`, `_split_impl` and `sub`.
def _regex_pair($value):
  if ($value | type) == "string" then [$value, null]
  elif ($value | type) == "array" and ($value | length) > 1 then [$value[0], $value[1]]
  elif ($value | type) == "array" and ($value | length) > 0 then [$value[0], null]
  else error(($value | type) + " not a string or array") end;
def match($re; $flags): _match_impl($re; $flags; false)[];
def match($value): _regex_pair($value) as [$re, $flags] | match($re; $flags);
def test($re; $flags): _match_impl($re; $flags; true);
def test($value): _regex_pair($value) as [$re, $flags] | test($re; $flags);
def capture($re; $flags): match($re; $flags)
  | [.captures[] | select(.name != null) | {key: .name, value: .string}]
  | from_entries;
def capture($value): _regex_pair($value) as [$re, $flags] | capture($re; $flags);
def scan($re; $flags): match($re; "g" + ($flags // ""))
  | if (.captures | length) > 0 then [.captures[].string] else .string end;
def scan($re): scan($re; null);
def split($re; $flags): _split_impl($re; $flags);
def splits($re; $flags): split($re; $flags)[];
def splits($re): splits($re; null);
def sub($re; str): sub($re; str; "");
def gsub($re; str; $flags): sub($re; str; ($flags // "") + "g");
def gsub($re; str): sub($re; str; "g");
# Paths: deletions are resolved against the input, all at once.
def del(f): delpaths([path(f)]);
def to_entries: [keys_unsorted[] as $key | {key: $key, value: .[$key]}];
def with_entries(f): to_entries | map(f) | from_entries;
# Streams: `[path, leaf]` events, and `[path]` after the last child of each non-empty container.
def tostream:
  def events($path):
    if (type == "array" or type == "object") and length > 0 then
      keys_unsorted as $keys
      | (($keys[] as $key | .[$key] | events($path + [$key])), [$path + [$keys[-1]]])
    else [$path, .] end;
  events([]);
def fromstream(events):
  {value: null, done: false} as $start
  | foreach events as $event ($start;
      (if .done then $start else . end)
      | if ($event | length) == 2
        then .value |= setpath($event[0]; $event[1]) | .done = (($event[0] | length) == 0)
        else .done = (($event[0] | length) == 1) end;
      if .done then .value else empty end);
# Dates.
def todate: todateiso8601;
def fromdate: fromdateiso8601;
# Text.
def @text: tostring;
def @json: tojson;
def @csv: map(
    if type == "string" then "\"" + gsub("\""; "\"\"") + "\""
    elif type == "number" or type == "boolean" then tostring
    elif . == null then ""
    else error("\(type) (\(tojson)) is not valid in a csv row") end
  ) | join(",");
def @tsv: map(
    if type == "string" then gsub("\\\\"; "\\\\") | gsub("\t"; "\\t") | gsub("\n"; "\\n") | gsub("\r"; "\\r")
    elif type == "number" or type == "boolean" then tostring
    elif . == null then ""
    else error("\(type) (\(tojson)) is not valid in a tsv row") end
  ) | join("\t");
