FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -e .
ENV COACH_PROGRAMMES_DIR=/app/templates/programmes
CMD ["coach", "--help"]
