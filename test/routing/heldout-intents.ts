// Held-out phrasings for the routing example (examples/routing): none of these sentences is an agent's
// description or example, and they were written before routing was measured on them. Each names the agent a
// person would expect. Written for this repository (Apache-2.0).
export const HELDOUT_INTENTS: readonly [intent: string, agent: string][] = [
  ['tell me how many words my essay has', 'word-count'],
  ['word count please', 'word-count'],
  ['how many characters are in this tweet', 'word-count'],
  ['count lines and words of the attached text', 'word-count'],
  ['is my abstract under 250 words', 'word-count'],
  ['measure the length of this text in words', 'word-count'],

  ['put this into German', 'translate'],
  ['I need this letter in Japanese', 'translate'],
  ['translation from Spanish to English', 'translate'],
  ['what does this French phrase mean in English', 'translate'],
  ['translate the menu for me', 'translate'],
  ['say this in Portuguese', 'translate'],

  ['summarize this news story', 'summarise'],
  ['give me the key points of this long report', 'summarise'],
  ['shorten this document to a paragraph', 'summarise'],
  ['write an abstract for this paper', 'summarise'],
  ['what are the main takeaways of this article', 'summarise'],
  ['brief summary of the minutes', 'summarise'],

  ['was this customer happy or angry', 'sentiment'],
  ['rate the sentiment of these product reviews', 'sentiment'],
  ['does this comment sound negative', 'sentiment'],
  ['classify this feedback as positive, negative or neutral', 'sentiment'],
  ['analyse the emotion in this message', 'sentiment'],
  ['is the tone of this email positive', 'sentiment'],

  ['write a query to find all orders from last month', 'sql-query'],
  ['SQL for counting users per country', 'sql-query'],
  ['select the five most expensive products from the database', 'sql-query'],
  ['join the invoices table with customers', 'sql-query'],
  ['give me a postgres statement that deletes duplicate rows', 'sql-query'],
  ['turn this question into a database query', 'sql-query'],

  ['how many miles is a marathon in kilometres', 'unit-convert'],
  ['convert 100 fahrenheit to celsius', 'unit-convert'],
  ['what is 70 kg in pounds', 'unit-convert'],
  ['change 12 inches into centimetres', 'unit-convert'],
  ['unit conversion from feet to metres', 'unit-convert'],
  ['how many kilograms are 200 pounds', 'unit-convert'],

  ['does this JSON parse', 'json-validate'],
  ['check my json for errors', 'json-validate'],
  ['is this JSON well formed', 'json-validate'],
  ['validate the syntax of this json object', 'json-validate'],
  ['why does my JSON config fail to load', 'json-validate'],
  ['lint this JSON document', 'json-validate'],

  ['draft an email declining the meeting', 'email-draft'],
  ['write a thank-you note to my colleague', 'email-draft'],
  ['compose an email to a customer about a delayed order', 'email-draft'],
  ['help me reply to this email politely', 'email-draft'],
  ['write a professional email requesting a refund', 'email-draft'],
  ['an email inviting the team to lunch', 'email-draft'],

  ['look for security vulnerabilities in this code', 'code-review'],
  ['review my TypeScript class', 'code-review'],
  ['can you spot the bug in this function', 'code-review'],
  ['code review of this diff', 'code-review'],
  ['check my source code for style problems', 'code-review'],
  ['audit this snippet for bugs', 'code-review'],

  ['how many days between March 3 and June 9', 'date-calc'],
  ['what day of the week was 1 January 2000', 'date-calc'],
  ['what date is 90 days from now', 'date-calc'],
  ['weeks until my birthday', 'date-calc'],
  ['count the days between two dates', 'date-calc'],
  ['which weekday is my deadline on', 'date-calc'],
];

/** Requests no example agent serves: routing must refuse them (NO_MATCHING_AGENT) rather than guess. */
export const UNMATCHED_INTENTS: readonly string[] = [
  'book a flight to Lisbon',
  'play some jazz music',
  'what is the capital of Peru',
  'order a pizza with mushrooms',
];
