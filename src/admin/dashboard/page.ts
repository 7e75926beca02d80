/**
 * The dashboard's HTML: an empty shell the script fills. Paths are relative, so the page works
 * wherever the admin API is mounted (`/herald/dashboard` in a service).
 *
 * @module
 */

/** The page. */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Herald</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="dashboard.css">
<script src="dashboard.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="#/">Herald</a>
  <nav id="nav" hidden>
    <a href="#/">Overview</a>
    <form id="find" class="find" role="search">
      <input name="id" placeholder="Event or correlation id" aria-label="Event or correlation id">
      <button type="submit">Trace</button>
    </form>
    <span id="access" class="badge"></span>
    <button id="logout" type="button" class="quiet">Sign out</button>
  </nav>
</header>
<main id="main"><noscript>The dashboard needs JavaScript.</noscript></main>
<div id="status" class="status" role="status" aria-live="polite"></div>
<dialog id="confirm">
  <form method="dialog">
    <h2 id="confirm-title"></h2>
    <p id="confirm-text"></p>
    <div id="confirm-fields"></div>
    <menu>
      <button value="cancel" type="submit" formnovalidate>Cancel</button>
      <button value="ok" type="submit" class="danger" id="confirm-ok">Confirm</button>
    </menu>
  </form>
</dialog>
</body>
</html>
`;
