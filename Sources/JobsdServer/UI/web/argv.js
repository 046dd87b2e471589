// The submit form's parsers. No shell ever runs the command: the line is only split into argv
// the way a POSIX shell splits words, so people can type what they would type in a terminal.

export class ParseError extends Error {}

/**
 * Splits a command line into words: blanks separate words; '…' keeps everything literally;
 * "…" keeps everything but \" \\ \$ \` (and drops \ + newline); outside quotes a backslash
 * keeps the next character literally. Quotes can join parts of one word (a'b c'd → "ab cd"),
 * and '' or "" make an empty word. Nothing is expanded ($VAR, *, ~ and | ; > stay as typed).
 * Throws ParseError for an unclosed quote or a trailing backslash.
 */
export function splitWords(line) {
  const words = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ParseError(`unclosed ' quote starting at character ${i + 1}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length && '"\\$`\n'.includes(line[j + 1])) {
          if (line[j + 1] !== '\n') word += line[j + 1];
          j++;
        } else {
          word += line[j];
        }
      }
      if (j >= line.length) throw new ParseError(`unclosed " quote starting at character ${i + 1}`);
      inWord = true;
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new ParseError('the line ends with a lone backslash');
      if (line[i + 1] !== '\n') {
        word += line[i + 1];
        inWord = true;
      }
      i++;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * "KEY=value" lines (blank lines and lines starting with # are skipped; the value is everything
 * after the first "=", spaces kept) as an object. Throws ParseError naming the line otherwise.
 */
export function parseAssignments(text, what) {
  const result = {};
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const equals = line.indexOf('=');
    const key = equals < 0 ? '' : line.slice(0, equals).trim();
    if (equals < 0 || key === '') throw new ParseError(`${what}, line ${index + 1}: write KEY=value`);
    result[key] = line.slice(equals + 1);
  });
  return result;
}
