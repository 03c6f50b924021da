import { SEARCH_ATTRIBUTE_FLAGS } from '../../contracts/search-attributes';
import { checkSearchAttributeBudget, MAX_KEYWORD_ATTRIBUTES } from '../../scripts/temporal-server';

test("the project's search attributes fit PostgreSQL visibility's 10 custom Keywords; one too many is refused with the names", () => {
  expect(() => checkSearchAttributeBudget(SEARCH_ATTRIBUTE_FLAGS)).not.toThrow();
  const eleven = Array.from({ length: MAX_KEYWORD_ATTRIBUTES + 1 }, (_, i) => `Sa${i}=Keyword`);
  expect(() => checkSearchAttributeBudget(eleven)).toThrow(/11 custom Keyword search attributes \(Sa0, .*Sa10\): PostgreSQL visibility holds at most 10/);
  expect(() => checkSearchAttributeBudget([...eleven.slice(0, 10), 'Count=Int', 'Note=Text'])).not.toThrow();
});
