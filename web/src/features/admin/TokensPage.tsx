// Tokens page: being built (issue 5).
export default function TokensPage() {
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" className="page-title">
        Tokens
      </h1>
    </section>
  );
}
