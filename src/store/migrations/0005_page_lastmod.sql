-- 0005: the lastmod a sitemap gave a page, as written there (shown with the page; NULL when the
-- page came from a link or its sitemap entry had none).
ALTER TABLE scrape_pages ADD COLUMN lastmod TEXT;
